#pragma once
// `filter` transform: keeps the events for which `if` holds, drops the rest.

#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kFilterDecl;

class FilterTransform final : public Transform {
 public:
  Status configure(const Options& options, Context& context) override;
  bool changes_payload() const override { return false; }  // reads it only
  Result<Verdict> apply(Event& event) override {
    return condition_->test(event) ? Verdict::keep : Verdict::drop;
  }

 private:
  const Template* condition_ = nullptr;
};

}  // namespace switchyard::core
