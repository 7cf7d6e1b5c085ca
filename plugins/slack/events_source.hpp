#pragma once
// `slack.events` source: requests Slack signs with the app's signing secret (Events API
// callbacks, slash commands, interactivity) become events.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/intake.hpp"
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

/// Slack's side of a request: signed, then JSON (Events API) or a form (a slash command,
/// or interactivity with its JSON in a payload field).
class EventsProtocol final : public intake::Protocol {
 public:
  std::optional<std::string> verify(const HttpRequest& request) const override;
  intake::Admission admit(const HttpRequest& request) const override;

  signing::Keys keys;
  std::chrono::milliseconds max_age{0};
  std::vector<std::string> events;     // Events API event types accepted; empty: all
  std::string command_reply;           // answer to a slash command nobody else answers ("" none)
  std::chrono::milliseconds reply_within{0};  // how long a slash command waits for a `reply` sink
  Logger* logger = nullptr;

 private:
  intake::Admission decode(const HttpRequest& request) const;
  intake::Admission admit_callback(std::unique_ptr<Event> event) const;
  intake::Admission admit_command(std::unique_ptr<Event> event) const;
  intake::Admission admit_interaction(std::unique_ptr<Event> event) const;
};

class EventsSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override { return endpoint_.open(); }
  void drain(std::function<void()> done) override { endpoint_.drain(std::move(done)); }
  void stop() override { endpoint_.close(); }

 private:
  intake::Endpoint endpoint_;
};

}  // namespace switchyard::slack
