#pragma once
// `discord.webhook` sink: posts each event to a Discord channel through a webhook URL, as
// message text and embeds built from templates, within Discord's limits.

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "common/message_sender.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::discord {

extern const ComponentDecl kWebhookSinkDecl;
/// `discord.reply`: answers the interactions of discord.interactions with the same message
/// options, in the interaction's 3 s when it can, else as a follow-up message.
extern const ComponentDecl kReplySinkDecl;

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
  /// `reply`: the discord.reply sink.
  explicit WebhookSink(bool reply = false) : reply_(reply) {}
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  /// The webhook's POST (discord.reply: the follow-up URL), built as deliver() builds it.
  Result<std::optional<Rendering>> render(const Event& event) override;
  void drain(std::function<void()> done) override { done(); }
  void stop() override;

  /// The messages `event` becomes (public for tests).
  Result<Messages> messages_for(const Event& event) const;

 private:
  /// Where the messages of `event` go (thread_id applied; discord.reply: the follow-up URL
  /// of its interaction).
  Result<std::string> url_for(const Event& event) const;
  void reply(const Event& event, DeliveryCallback done);

  Context* context_ = nullptr;
  TextOption url_;
  TextOption content_;
  TextOption username_;
  TextOption avatar_url_;
  TextOption thread_id_;
  const Template* embeds_ = nullptr;
  rapidjson::Document allowed_mentions_;
  bool split_ = true;
  bool reply_ = false;
  int flags_ = 0;              // message flags (64: ephemeral), discord.reply only
  std::string api_base_;       // discord.reply: where follow-ups go
  std::mutex mutex_;
  std::set<std::string> answered_;  // interactions answered in their 3 s (discord.reply)
  HttpClientOptions client_options_;
  std::unique_ptr<chat::MessageSender> sender_;
};

}  // namespace switchyard::discord
