#pragma once
// Posting the messages one event becomes (chat services split long ones) to one webhook
// URL, in order. It waits out the URL's rate limit instead of collecting 429s, and when
// the delivery layer retries an event that failed part-way, it sends only the messages the
// service has not accepted yet, so nobody sees a message twice.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "switchyard/switchyard.hpp"

namespace switchyard::chat {

/// What one event becomes: the JSON bodies of the messages to post, in order.
struct Messages {
  std::vector<std::string> bodies;
  std::vector<std::string> notes;  ///< what was cut to fit, for the log
};

/// Compact JSON text of `value`.
std::string to_json(const rapidjson::Value& value);

/// Why deliver() would refuse `url`: it must be http(s) (the error never quotes it: it may
/// hold a token).
Status check_url(std::string_view url);

/// What deliver() would post for `url` and `messages` (Sink::render): POST with the JSON
/// content type; the body is the message's as sent, or, when the event becomes several
/// messages (a long text split), a JSON array of their bodies in order. The errors are
/// deliver()'s.
Result<std::optional<Rendering>> render_messages(std::string url, Result<Messages> messages);

class MessageSender {
 public:
  /// How long the URL takes no request after `response` (its rate-limit bucket is empty,
  /// or a 429 said so); nullopt: no pause. A 429 without one pauses for a second.
  using PauseAfter = std::function<std::optional<std::chrono::milliseconds>(const HttpClientResponse&)>;

  MessageSender(Context& context, PauseAfter pause_after);
  ~MessageSender();

  void start(const HttpClientOptions& options);
  /// Forgets everything in flight (no callbacks after this).
  void stop();

  /// POSTs `bodies` (JSON) to `url` one after another; `done` gets the first failure, or
  /// success once all are accepted. The URL never appears in an error: it may hold a token.
  void send(const std::string& event_id, std::string url, std::vector<std::string> bodies,
            DeliveryCallback done);

  /// A sink's deliver(): `url` (rendered from a template) must be http(s); `messages` are
  /// what the event became, or why it cannot be sent (dead-lettered); notes go to the log.
  void deliver(const Event& event, std::string url, Result<Messages> messages, DeliveryCallback done);

 private:
  struct Delivery;
  void send_next(const std::shared_ptr<Delivery>& delivery, bool waited);
  void on_answer(const std::shared_ptr<Delivery>& delivery, Result<HttpClientResponse> result);
  void finish(const std::shared_ptr<Delivery>& delivery, Status status);
  void pause(const std::string& url, std::chrono::milliseconds for_how_long);

  Context& context_;
  PauseAfter pause_after_;
  std::unique_ptr<HttpClient> client_;

  std::mutex mutex_;  // guards what follows
  std::map<std::string, std::size_t> sent_;  // event id → messages already accepted
  std::map<std::string, std::chrono::steady_clock::time_point> paused_until_;  // by URL
  std::set<std::shared_ptr<Delivery>> in_flight_;
};

/// Seconds as services write them ("1", "0.337") → milliseconds, rounded up, at most a day.
std::optional<std::chrono::milliseconds> seconds(std::string_view text);
std::optional<std::chrono::milliseconds> seconds(double value);

}  // namespace switchyard::chat
