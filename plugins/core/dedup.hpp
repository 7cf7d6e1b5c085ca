#pragma once
// `dedup` transform: drops an event whose key was already seen within `window`. Keys live
// in the component's state store, so dedup follows the store's durability.

#include <chrono>

#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kDedupDecl;

class DedupTransform final : public Transform {
 public:
  Status configure(const Options& options, Context& context) override;
  bool changes_payload() const override { return false; }  // reads it only
  Result<Verdict> apply(Event& event) override;

 private:
  const Template* key_ = nullptr;
  std::chrono::milliseconds window_{0};
  Context* context_ = nullptr;
  std::string scratch_;
};

}  // namespace switchyard::core
