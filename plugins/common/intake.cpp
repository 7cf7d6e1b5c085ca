#include "common/intake.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "common/json_limits.hpp"

namespace switchyard::intake {
namespace {

constexpr int kRetryAfterStopping = 10;  // s: a new version of the pipeline is usually up by then
constexpr int kRetryAfterFallback = 5;   // s: when the pipeline's error names no wait

HttpResponse failure(const Error& error) {
  if (error.kind == ErrorKind::retryable) {
    return HttpResponse::unavailable(error.message, retry_after_seconds(error, kRetryAfterFallback));
  }
  return HttpResponse::error(500, error.message);
}

// A request parked for the pipeline's reply: answered by whichever comes to decide it —
// the reply, or (once the time is up) the emit's outcome.
class Parked {
 public:
  Parked(HttpReply reply, HttpResponse accepted) : reply_(std::move(reply)), accepted_(std::move(accepted)) {}

  // The pipeline's reply: the event was accepted (sinks only see accepted events).
  void replied(HttpResponse response) { send(std::move(response)); }

  // No reply in time: the "accepted" answer, once the emit is known to have succeeded.
  void timed_out() {
    std::unique_lock lock(mutex_);
    timed_out_ = true;
    if (!accepted_known_) return;
    lock.unlock();
    send(accepted_);
  }

  // The emit's outcome. A failure is answered by the caller (after withdrawing the park).
  void emitted() {
    std::unique_lock lock(mutex_);
    accepted_known_ = true;
    if (!timed_out_) return;
    lock.unlock();
    send(accepted_);
  }

  void failed(HttpResponse response) { send(std::move(response)); }

 private:
  void send(HttpResponse response) {
    std::lock_guard lock(mutex_);
    if (sent_) return;
    sent_ = true;
    reply_(std::move(response));
  }

  std::mutex mutex_;
  HttpReply reply_;
  HttpResponse accepted_;
  bool timed_out_ = false;
  bool accepted_known_ = false;
  bool sent_ = false;
};

}  // namespace

HttpResponse Protocol::replied(Reply reply) const {
  HttpResponse r;
  r.status = reply.status;
  r.headers = std::move(reply.headers);
  if (!reply.content_type.empty()) r.headers.set("Content-Type", reply.content_type);
  r.body = std::move(reply.body);
  return r;
}

HttpResponse Protocol::duplicate(const std::string& id) const { return status_answer(200, "duplicate", id); }

HttpResponse status_answer(int code, std::string_view status, std::string_view id) {
  // Built in one string: this is the answer to every accepted request.
  std::string body;
  body.reserve(24 + status.size() + id.size());
  body += "{\"status\":";
  body += HttpResponse::json_quote(status);
  body += ",\"id\":";
  body += HttpResponse::json_quote(id);
  body += '}';
  return HttpResponse::json(code, std::move(body));
}

std::optional<HttpResponse> copy_headers(const HttpRequest& request, const std::vector<std::string>& names,
                                         Event& event) {
  for (const auto& name : names) {
    const auto value = request.headers.get(name);
    if (!value) continue;
    if (json_limits::first_invalid_utf8(*value) != std::string_view::npos) {
      return HttpResponse::error(400, "header " + name + " is not UTF-8 text");
    }
    event.set_meta(name, *value);
  }
  return std::nullopt;
}

bool printable_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

struct Endpoint::State {
  Context* context = nullptr;
  std::shared_ptr<const Protocol> protocol;
  EndpointOptions options;
  Counter* signature_failures = nullptr;
  Counter* duplicates = nullptr;  // redeliveries answered "duplicate", not emitted again
  ThrottledWarning refusals;
  Redeliveries redeliveries;
  // Event ids of requests waiting for the pipeline's reply (reply_within).
  std::mutex parked_mutex;
  std::unordered_set<std::string> parked_ids;
  void unpark(const std::string& id) {
    std::lock_guard lock(parked_mutex);
    parked_ids.erase(id);
  }
  // Handlers and callbacks hold a pass while they touch the component; close() waits for them.
  HttpGate gate;

  // Handlers inside now, and what to run once the last one leaves a draining endpoint.
  std::mutex mutex;
  int handling = 0;
  bool draining = false;
  std::function<void()> drained;

  bool enter_handler() {
    std::lock_guard lock(mutex);
    if (draining) return false;
    ++handling;
    return true;
  }
  void leave_handler() {
    std::function<void()> done;
    {
      std::lock_guard lock(mutex);
      if (--handling == 0 && draining) done = std::move(drained);
    }
    if (done) done();
  }

  void handle(const std::shared_ptr<State>& self, const HttpRequest& request, HttpReply reply);
  void emit(const std::shared_ptr<State>& self, Admission admission, HttpReply reply);
};

void Endpoint::State::handle(const std::shared_ptr<State>& self, const HttpRequest& request, HttpReply reply) {
  // 1. Authenticity first: nothing about an unauthenticated request is looked at.
  if (auto why = protocol->verify(request)) {
    signature_failures->inc();
    refusals.warn(context->logger(), "refused a request from " + std::string(request.remote) + ": " + *why);
    return reply(HttpResponse::error(401, *why));
  }
  // 2. What it carries.
  Admission admission = protocol->admit(request);
  if (!admission.event) return reply(std::move(admission.answer));
  // 3. Whether the pipeline takes events now.
  if (const auto refused = context->emitter().refusal()) {
    return reply(HttpResponse::unavailable(refused->message + "; retry later",
                                           retry_after_seconds(*refused, kRetryAfterFallback)));
  }
  // 4. A delivery seen before (state store: survives restarts) or being emitted right now.
  if (admission.redelivery && !redeliveries.claim(*context, *admission.event)) {
    duplicates->inc();
    return reply(protocol->duplicate(admission.event->id));
  }
  emit(self, std::move(admission), std::move(reply));
}

void Endpoint::State::emit(const std::shared_ptr<State>& self, Admission admission, HttpReply reply) {
  std::string id = admission.event->id;
  const bool redelivery = admission.redelivery;
  std::shared_ptr<Parked> parked;
  if (admission.reply_within.count() > 0) {
    // One request per event id waits for a reply: the pipeline's reply goes by event id, and
    // a second request parked under the id (a client's id header) would take the first one's.
    {
      std::lock_guard lock(parked_mutex);
      if (!parked_ids.insert(id).second) {
        return reply(HttpResponse::error(409, "a request with this event id is waiting for its reply"));
      }
    }
    // Parked before emitting: a reply sink may answer before the emit's callback runs.
    parked = std::make_shared<Parked>(std::move(reply), std::move(admission.answer));
    context->replies().park(id, admission.reply_within, [self, id, parked, protocol = protocol](std::optional<Reply> r) {
      self->unpark(id);
      if (r && r->unanswered) {
        // The pipeline is through with the event and nothing answered: the fallback now.
        if (auto fallback = protocol->unanswered()) return parked->replied(std::move(*fallback));
        return parked->timed_out();
      }
      if (r) return parked->replied(protocol->replied(std::move(*r)));
      parked->timed_out();
    });
  }
  auto& emitter = context->emitter();
  auto emit = options.answer_after_delivery ? &Emitter::emit_until_done : &Emitter::emit;
  (emitter.*emit)(
      std::move(admission.event),
      [self, reply = std::move(reply), answer = std::move(admission.answer), parked, id = std::move(id),
       redelivery](Status status) mutable {
        auto pass = self->gate.enter();  // the component's state only while it runs
        if (redelivery) self->redeliveries.settle(id);
        if (!parked) return reply(status ? std::move(answer) : failure(status.error()));
        if (status) return parked->emitted();
        if (pass && self->context->replies().withdraw(id)) self->unpark(id);
        parked->failed(failure(status.error()));
      });
}

void Endpoint::configure(Context& context, std::shared_ptr<const Protocol> protocol, EndpointOptions options) {
  state_ = std::make_shared<State>();
  state_->context = &context;
  state_->protocol = std::move(protocol);
  state_->signature_failures = &context.metrics().counter(metrics::names::kSignatureFailures, metrics::help::kSignatureFailures);
  // The engine's drop counter (runtime/drops.hpp), which the admin API reads too.
  state_->duplicates = &context.metrics().counter(
      "switchyard_events_dropped_total",
      "Events that did not reach a sink (or, for a sink's component, that sink), by reason: signature, "
      "deduplicated, filtered, rate_limited, dropped, transform_error, dead_lettered.",
      {{"reason", "deduplicated"}});
  state_->redeliveries.configure(options.redelivery_prefix, options.redelivery_window);
  state_->options = std::move(options);
}

Status Endpoint::open() {
  const EndpointOptions& o = state_->options;
  auto route = state_->context->routes().add(
      o.method, o.path,
      [state = state_](const HttpRequest& request, HttpReply reply) {
        auto pass = state->gate.enter();
        if (!pass || !state->enter_handler()) {
          return reply(HttpResponse::unavailable("pipeline is stopping; retry later", kRetryAfterStopping));
        }
        state->handle(state, request, std::move(reply));
        state->leave_handler();
      },
      HttpRouteOptions{.max_body = o.max_body});
  if (!route) return route.error();
  route_ = std::move(*route);
  return {};
}

void Endpoint::drain(std::function<void()> done) {
  {
    std::lock_guard lock(state_->mutex);
    state_->draining = true;
    if (state_->handling > 0) {
      state_->drained = std::move(done);
      return;
    }
  }
  done();
}

void Endpoint::close() {
  route_.reset();
  if (state_) state_->gate.close();
}

}  // namespace switchyard::intake
