#pragma once
// `slack.webhook` sink: posts each event to a Slack channel through an incoming webhook,
// as text and Block Kit blocks built from templates, within Slack's limits.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/message_sender.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::slack {

extern const ComponentDecl kWebhookSinkDecl;

/// Slack's documented limits, in characters.
struct Limits {
  static constexpr std::size_t text = 40000;  // Slack truncates longer message text
  static constexpr std::size_t blocks = 50;
  static constexpr std::size_t header = 150;
  static constexpr std::size_t section = 3000;
  static constexpr std::size_t section_fields = 10;
  static constexpr std::size_t field = 2000;
  static constexpr std::size_t context_elements = 10;
};

using chat::Messages;

/// `event` with &, < and > escaped in every string of its envelope, meta and payload, as
/// Slack's mrkdwn requires of text that is not markup: templates rendered against it keep
/// their own markup (<url|label>, <!here>) while values from the event stay text.
std::unique_ptr<Event> escaped(const Event& event);

class WebhookSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  /// The webhook's POST, built as deliver() builds it.
  Result<std::optional<Rendering>> render(const Event& event) override;
  void drain(std::function<void()> done) override { done(); }
  void stop() override;

  /// The messages `event` becomes (public for tests).
  Result<Messages> messages_for(const Event& event) const;

 private:
  Context* context_ = nullptr;
  TextOption url_;
  TextOption text_;
  TextOption thread_ts_;
  const Template* blocks_ = nullptr;
  const Template* attachments_ = nullptr;
  bool escape_ = true;
  bool split_ = true;
  bool unfurl_links_ = false;
  std::chrono::milliseconds min_interval_{0};
  HttpClientOptions client_options_;
  std::unique_ptr<chat::MessageSender> sender_;
};

}  // namespace switchyard::slack
