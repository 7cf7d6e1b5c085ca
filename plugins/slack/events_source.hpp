#pragma once
// `slack.events` source: requests Slack signs with the app's signing secret (Events API
// callbacks, slash commands, interactivity) become events.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.hpp"
#include "common/redelivery.hpp"
#include "common/signing.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::slack {

extern const ComponentDecl kEventsSourceDecl;

/// Why a request is not Slack's, or nullopt when its signature and timestamp hold:
/// X-Slack-Signature must be "v0=" + hex HMAC-SHA256 of "v0:<timestamp>:<body>" under one
/// of the secrets, and X-Slack-Request-Timestamp within `max_age` of `now` either way
/// (an older request is a replay).
std::optional<std::string> refuse(const signing::Keys& keys, std::optional<std::string_view> signature,
                                  std::optional<std::string_view> timestamp, std::string_view body,
                                  std::chrono::system_clock::time_point now, std::chrono::milliseconds max_age);

/// "v0=<hex>" for `body` sent at `timestamp` under `secret` (for tests and `switchyard send`).
std::string sign(std::string_view secret, std::string_view timestamp, std::string_view body);

class EventsSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void drain(std::function<void()> done) override;
  void stop() override;

 private:
  struct Settings {
    std::string path;
    signing::Keys keys;
    std::chrono::milliseconds max_age{0};
    std::vector<std::string> events;  // Events API event types accepted; empty: all
    std::string command_reply;        // immediate answer to a slash command ("" none)
    std::size_t max_body = 0;
  };
  struct Shared {
    Settings settings;
    Context* context = nullptr;
    intake::Endpoint::Gate running;  // the endpoint's: open while the source runs
    Counter* signature_failures = nullptr;
    intake::ThrottledWarning refusals;
    intake::Redeliveries redeliveries;  // Events API event ids (Slack retries)
  };
  static void handle(const std::shared_ptr<Shared>& shared, const HttpRequest& request, HttpReply reply);

  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  intake::Endpoint endpoint_;
};

}  // namespace switchyard::slack
