#pragma once
// `discord.interactions` source: a Discord application's Interactions Endpoint. Requests
// signed with the application's Ed25519 key become events (slash commands, components,
// modals); PING is answered. A command waits up to reply_within for the pipeline's
// discord.reply sink to answer it; otherwise (and components and modals at once) it gets a
// deferred response, and discord.reply (or discord.webhook to the interaction's webhook URL)
// sends a follow-up message within Discord's 15 minutes.

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/endpoint.hpp"
#include "common/redelivery.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::discord {

extern const ComponentDecl kInteractionsSourceDecl;

using PublicKey = std::array<unsigned char, 32>;

/// The application's public key from its 64 hex digits; nullopt otherwise.
std::optional<PublicKey> parse_public_key(std::string_view hex);

/// Why a request is not Discord's, or nullopt: X-Signature-Ed25519 must be the Ed25519
/// signature (128 hex digits) of timestamp + body under `key`, and X-Signature-Timestamp
/// within `max_age` of `now` either way.
std::optional<std::string> refuse(const PublicKey& key, std::optional<std::string_view> signature,
                                  std::optional<std::string_view> timestamp, std::string_view body,
                                  std::chrono::system_clock::time_point now, std::chrono::milliseconds max_age);

class InteractionsSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void drain(std::function<void()> done) override;
  void stop() override;

 private:
  struct Shared {
    std::string path;
    PublicKey key{};
    std::chrono::milliseconds max_age{0};
    bool ephemeral = false;
    std::chrono::milliseconds reply_within{0};  // how long a command waits for discord.reply
    std::size_t max_body = 0;
    Context* context = nullptr;
    Counter* signature_failures = nullptr;
    intake::ThrottledWarning refusals;
  };
  static void handle(const std::shared_ptr<Shared>& shared, const HttpRequest& request, HttpReply reply);

  void sweep();  // answers "deferred" to parked commands whose moment is over

  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  intake::Endpoint endpoint_;
  std::unique_ptr<Timer> sweeper_;
  std::atomic<bool> running_{false};
};

}  // namespace switchyard::discord
