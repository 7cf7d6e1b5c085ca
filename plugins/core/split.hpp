#pragma once
// `split` transform: one event per item of an array (each commit of a push), each going
// through the rest of the pipeline on its own.

#include <cstddef>

#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kSplitDecl;

class SplitEvents final : public SplitTransform {
 public:
  Status configure(const Options& options, Context& context) override;
  Result<Events> split(Event& event) override;

 private:
  const Template* items_ = nullptr;
  const Template* with_ = nullptr;
  const Template* id_ = nullptr;
  std::size_t max_items_ = 1000;
};

}  // namespace switchyard::core
