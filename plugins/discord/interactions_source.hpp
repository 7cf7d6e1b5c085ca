#pragma once
// `discord.interactions` source: a Discord application's Interactions Endpoint. Requests
// signed with the application's Ed25519 key become events (slash commands, components,
// modals); PING is answered. A command waits up to reply_within for the pipeline's reply
// (discord.reply, or the core reply sink) through the engine's Replies; otherwise (and
// components and modals at once) it gets a deferred response, and discord.reply (or
// discord.webhook to the interaction's webhook URL) sends a follow-up message within
// Discord's 15 minutes.

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/intake.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::discord {

extern const ComponentDecl kInteractionsSourceDecl;

using PublicKey = std::array<unsigned char, 32>;

/// Where an interaction's token travels: an event secret (Event::set_secret), never in the
/// stored payload. It answers the interaction for 15 minutes, so it must not sit in the
/// journal, the dead-letter queue or a sink's copy of the event; discord.reply reads it here.
inline constexpr std::string_view kTokenSecret = "discord.token";

/// Switchyard's published Ed25519 test key pair, for trying an interactions pipeline
/// locally: `switchyard send discord FILE --secret test` signs with its private key (the
/// seed below), and a source accepts those requests only when its public_key is set to
/// kTestPublicKey explicitly (it has no default); it then logs a warning. Anyone can sign
/// with it: never for an application Discord talks to.
inline constexpr std::string_view kTestSeed = "db31032edc478a65f7457ea465bccae858ae0f5ae750bea510c32bfb1ebc987b";
inline constexpr std::string_view kTestPublicKey = "87212078b8c21d8a45b900366a8368527e66fdd4fe0174d9ff740998f1e6c250";

/// Signs `request` (whose body is set) as Discord does: Ed25519 over timestamp + body in
/// X-Signature-Ed25519, the timestamp in X-Signature-Timestamp. `private_key`: the key's
/// seed, 64 hex digits, or "test" for kTestSeed.
Status sign_interaction(std::string_view private_key, std::string_view, HttpClientRequest& request);

/// The application's public key from its 64 hex digits; nullopt otherwise.
std::optional<PublicKey> parse_public_key(std::string_view hex);

/// Why a request is not Discord's, or nullopt: X-Signature-Ed25519 must be the Ed25519
/// signature (128 hex digits) of timestamp + body under `key`, and X-Signature-Timestamp
/// within `max_age` of `now` either way.
std::optional<std::string> refuse(const PublicKey& key, std::optional<std::string_view> signature,
                                  std::optional<std::string_view> timestamp, std::string_view body,
                                  std::chrono::system_clock::time_point now, std::chrono::milliseconds max_age);

/// Discord's side of an interaction: Ed25519-signed JSON; PING answered, commands,
/// components and modals emitted and acknowledged with a deferred response, or answered
/// with the pipeline's reply when it comes within reply_within.
class InteractionsProtocol final : public intake::Protocol {
 public:
  std::optional<std::string> verify(const HttpRequest& request) const override;
  intake::Admission admit(const HttpRequest& request) const override;
  /// The pipeline's message as the interaction's answer (CHANNEL_MESSAGE_WITH_SOURCE).
  HttpResponse replied(Reply reply) const override;
  /// A command the pipeline is through with, unanswered: `fallback_reply`, seen only by its
  /// user; nullopt without one (then "thinking…" as when no reply comes in time).
  std::optional<HttpResponse> unanswered() const override;

  PublicKey key{};
  std::chrono::milliseconds max_age{0};
  bool ephemeral = false;
  std::chrono::milliseconds reply_within{0};  // how long a command waits for a reply sink
  std::string fallback_reply;                 // answer to a command nothing answered; empty: none
};

class InteractionsSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override { return endpoint_.open(); }
  void drain(std::function<void()> done) override { endpoint_.drain(std::move(done)); }
  void stop() override { endpoint_.close(); }

 private:
  intake::Endpoint endpoint_;
};

}  // namespace switchyard::discord
