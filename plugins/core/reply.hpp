#pragma once
// `reply` sink: answers the request an event came from — a slash command of
// discord.interactions or slack.events, a call to the `http` source — through the engine's
// Replies, while the source still holds that request (its reply_within).

#include <string>
#include <utility>
#include <vector>

#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kReplyDecl;

class ReplySink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  /// The answer the waiting request would get: method "REPLY", its status as the url.
  Result<std::optional<Rendering>> render(const Event& event) override;

 private:
  Result<Reply> answer_for(const Event& event) const;

  Context* context_ = nullptr;
  const Template* body_ = nullptr;  // json_template; else text_
  TextOption text_;
  TextOption status_;
  std::vector<std::pair<std::string_view, TextOption>> headers_;
  std::string content_type_;
  bool fail_late_ = false;
};

}  // namespace switchyard::core
