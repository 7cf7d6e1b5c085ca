#pragma once
// `example.stamp` transform: sets one field of every event's payload to a value, e.g. to
// tag events with the environment they passed through. The value is a template, so it
// may also be computed per event: "${{ event.type }}@${{ payload.repository.name }}".

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
  const switchyard::Template* value_ = nullptr;  // compiled by the engine (or the harness)
  bool overwrite_ = true;
  switchyard::Logger* logger_ = nullptr;
};

}  // namespace stamp
