#pragma once
// The skeleton every HTTP source shares, so that each source is its protocol and nothing
// else. For one request, Endpoint runs:
//
//   gate (503 while draining) → Protocol::verify (401, counted, warned at most every 10 s)
//   → Protocol::admit (the event, or the answer to give instead: a ping, a challenge, 400)
//   → the pipeline's refusal (503 + Retry-After) → redelivery check (200 "duplicate")
//   → park for a reply (when the protocol asks) → emit → the answer: accepted, the
//   pipeline's reply (or the protocol's fallback when it has none), or the error (503 + Retry-After when retryable, else 500).
//
// The route lives from start() to stop(); drain() answers new requests 503 and waits for
// the handlers already inside, so their events reach the pipeline before it stops taking
// them.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/redelivery.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::intake {

/// What a request carries, as its protocol reads it.
struct Admission {
  /// The event to emit; null when `answer` is the whole response.
  std::unique_ptr<Event> event;
  /// Without an event, the response. With one, the answer once the pipeline has accepted it
  /// (and, for a parked request, the answer when no reply comes in time).
  HttpResponse answer;
  /// Above zero: the request waits this long for the pipeline's reply (a `reply` sink).
  std::chrono::milliseconds reply_within{0};
  /// The sender repeats deliveries under the same event id: a repeat is answered
  /// Protocol::duplicate() and not emitted again (needs EndpointOptions::redelivery_window).
  bool redelivery = false;

  /// The request is answered with `response`; nothing is emitted.
  static Admission respond(HttpResponse response) {
    Admission a;
    a.answer = std::move(response);
    return a;
  }
  /// An error answer, {"error": reason}.
  static Admission refuse(int status, std::string_view reason) { return respond(HttpResponse::error(status, reason)); }
};

/// The steps of a request that belong to one source.
class Protocol {
 public:
  virtual ~Protocol() = default;
  /// Why the request is not authentic (answered 401), or nullopt. Runs before anything
  /// else of the request is looked at.
  virtual std::optional<std::string> verify(const HttpRequest& request) const = 0;
  /// The event the request carries, or the answer to give instead.
  virtual Admission admit(const HttpRequest& request) const = 0;
  /// The response for the pipeline's reply to a parked request (default: as the reply says).
  virtual HttpResponse replied(Reply reply) const;
  /// The response to a parked request whose event the pipeline is through with, unanswered
  /// (filtered out, taken by no sink, failed, or delivered with no reply): a command's
  /// fallback text. nullopt (the default): the `answer` given when no reply comes in time.
  virtual std::optional<HttpResponse> unanswered() const { return std::nullopt; }
  /// The response to a repeated delivery of event `id` (default: 200 {"status":"duplicate"}).
  virtual HttpResponse duplicate(const std::string& id) const;
};

struct EndpointOptions {
  std::string method = "POST";
  std::string path;
  std::size_t max_body = 0;  ///< 0: http.max_body
  /// How long accepted event ids are remembered for Admission::redelivery (0: never).
  std::chrono::milliseconds redelivery_window{0};
  std::string redelivery_prefix = "delivery/";  ///< state-store key prefix of those ids
  /// Answer "accepted" only once every sink has delivered or dead-lettered the event
  /// (Emitter::emit_until_done: the event skips the journal, the sender keeps it until then)
  /// instead of once it is accepted (durable in the journal of a durable pipeline).
  bool answer_after_delivery = false;
};

class Endpoint {
 public:
  /// Counts refused signatures in switchyard_signature_failures_total; call from configure().
  void configure(Context& context, std::shared_ptr<const Protocol> protocol, EndpointOptions options);
  /// Registers the route; call from start().
  Status open();
  /// New requests are answered 503 + Retry-After; `done` runs once the handlers already
  /// inside have returned (their events are in the pipeline). The route stays until close().
  void drain(std::function<void()> done);
  /// Removes the route and waits for handlers and callbacks still touching the source.
  void close();

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::unique_ptr<HttpRoute> route_;
};

/// {"status": status, "id": id} with HTTP 200: a request taken note of but not emitted.
HttpResponse status_answer(int code, std::string_view status, std::string_view id);

/// The lower-case copy of an ASCII string (header names, content types).
std::string lower(std::string_view text);

/// Copies the request's headers `names` (lower case) that are present into `event`'s meta.
/// A value that is not UTF-8 text would make every CloudEvent written from the event
/// invalid: the answer to give then (400), naming the header; nullopt once all are copied.
std::optional<HttpResponse> copy_headers(const HttpRequest& request, const std::vector<std::string>& names,
                                         Event& event);

/// Printable ASCII, no space: what an id taken from a header may be.
bool printable_ascii(std::string_view text);

}  // namespace switchyard::intake
