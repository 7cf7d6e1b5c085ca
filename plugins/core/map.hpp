#pragma once
// `map` transform: builds a new payload from a template, sets fields from templates,
// drops fields, and can rewrite the event's type and subject.

#include <string>
#include <vector>

#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kMapDecl;

class MapTransform final : public Transform {
 public:
  Status configure(const Options& options, Context& context) override;
  Result<Verdict> apply(Event& event) override;

 private:
  const Template* payload_ = nullptr;
  const Template* set_ = nullptr;
  std::vector<std::vector<std::string>> set_paths_;  // parallel to the members of `set`
  std::vector<std::vector<std::string>> drop_;
  const Template* type_ = nullptr;
  const Template* subject_ = nullptr;
};

}  // namespace switchyard::core
