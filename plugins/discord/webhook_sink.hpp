#pragma once
// `discord.webhook` sink: posts each event to a Discord channel through a webhook URL, as
// message text and embeds built from templates, within Discord's limits.

#include <memory>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "common/message_sender.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::discord {

extern const ComponentDecl kWebhookSinkDecl;

/// Discord's documented limits, in characters.
struct Limits {
  static constexpr std::size_t content = 2000;
  static constexpr std::size_t embeds_per_message = 10;
  static constexpr std::size_t embed_total = 6000;  // all embeds of one message together
  static constexpr std::size_t title = 256;
  static constexpr std::size_t description = 4096;
  static constexpr std::size_t fields = 25;
  static constexpr std::size_t field_name = 256;
  static constexpr std::size_t field_value = 1024;
  static constexpr std::size_t footer_text = 2048;
  static constexpr std::size_t author_name = 256;
  static constexpr std::size_t username = 80;
};

using chat::Messages;

class WebhookSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  void drain(std::function<void()> done) override { done(); }
  void stop() override;

  /// The messages `event` becomes (public for tests).
  Result<Messages> messages_for(const Event& event) const;

 private:
  Context* context_ = nullptr;
  TextOption url_;
  TextOption content_;
  TextOption username_;
  TextOption avatar_url_;
  TextOption thread_id_;
  const Template* embeds_ = nullptr;
  rapidjson::Document allowed_mentions_;
  bool split_ = true;
  HttpClientOptions client_options_;
  std::unique_ptr<chat::MessageSender> sender_;
};

}  // namespace switchyard::discord
