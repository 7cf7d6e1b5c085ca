#pragma once
// `example.stamp` transform: sets one field of every event's payload to a fixed value,
// e.g. to tag events with the environment they passed through.

#include <string>

#include <switchyard/switchyard.hpp>

namespace stamp {

extern const switchyard::ComponentDecl kStampDecl;

class StampTransform final : public switchyard::Transform {
 public:
  switchyard::Status configure(const switchyard::Options& options,
                               switchyard::Context& context) override;
  switchyard::Result<switchyard::Verdict> apply(switchyard::Event& event) override;

 private:
  std::string field_;
  std::string value_;
  bool overwrite_ = true;
  switchyard::Logger* logger_ = nullptr;
};

}  // namespace stamp
