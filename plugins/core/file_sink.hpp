#pragma once
// `file` sink: appends one JSON line per event to a file.

#include <string>

#include "json_lines.hpp"
#include "reopening_file.hpp"
#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kFileDecl;

class FileSink final : public Sink {
 public:
  ~FileSink() override;
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  /// The line it would append: method "APPEND", the path as url.
  Result<std::optional<Rendering>> render(const Event& event) override;
  void stop() override;
  /// A line is the CloudEvent (or payload) with the payload's received bytes spliced in.
  bool reads_payload() const override { return false; }

 private:
  std::string path_;
  LineFormat format_ = LineFormat::cloudevent;
  bool fsync_ = false;
  ReopeningFile file_;  // follows the path when logrotate moves or removes the file
  Context* context_ = nullptr;
  LineBuffer line_;  // reused: deliveries of one sink never run concurrently
};

}  // namespace switchyard::core
