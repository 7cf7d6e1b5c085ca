#pragma once
// `stdout` sink: one JSON line per event on standard output.

#include "json_lines.hpp"
#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kStdoutDecl;

class StdoutSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  /// The line it would print: method "WRITE", url "stdout".
  Result<std::optional<Rendering>> render(const Event& event) override;
  /// Unless `pretty` (indented from the tree), a line has the payload's received bytes.
  bool reads_payload() const override { return pretty_; }

 private:
  LineFormat format_ = LineFormat::cloudevent;
  bool pretty_ = false;
  std::string line_;  // reused buffer; deliveries of one sink never run concurrently
};

}  // namespace switchyard::core
