#include "common/message_sender.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace switchyard::chat {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
constexpr std::size_t kMaxRemembered = 10'000;  // events part-way through their messages
constexpr const char* kContentType = "application/json";  // of every message posted
}  // namespace

std::optional<milliseconds> seconds(double value) {
  if (!std::isfinite(value) || value < 0) return std::nullopt;
  return milliseconds(static_cast<std::int64_t>(std::ceil(std::min(value, 86'400.0) * 1000)));
}

std::optional<milliseconds> seconds(std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return seconds(v);
}

std::string to_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// One event on its way: its messages and how far it got.
struct MessageSender::Delivery {
  std::string event_id;
  std::string url;
  std::vector<std::string> bodies;
  std::size_t next = 0;
  DeliveryCallback done;
  std::unique_ptr<Timer> timer;  // waiting out the URL's rate limit
};

MessageSender::MessageSender(Context& context, PauseAfter pause_after)
    : context_(context), pause_after_(std::move(pause_after)) {}

MessageSender::~MessageSender() { stop(); }

void MessageSender::start(const HttpClientOptions& options) { client_ = context_.http_client(options); }

void MessageSender::stop() {
  client_.reset();  // no callback after this
  std::lock_guard lock(mutex_);
  in_flight_.clear();  // cancels rate-limit waits
  sent_.clear();
}

void MessageSender::send(const std::string& event_id, std::string url, std::vector<std::string> bodies,
                         DeliveryCallback done) {
  auto delivery = std::make_shared<Delivery>();
  delivery->event_id = event_id;
  delivery->url = std::move(url);
  delivery->bodies = std::move(bodies);
  delivery->done = std::move(done);
  {
    std::lock_guard lock(mutex_);
    if (auto it = sent_.find(event_id); it != sent_.end()) delivery->next = it->second;
    in_flight_.insert(delivery);
  }
  send_next(delivery, false);
}

Status check_url(std::string_view url) {
  // Never the URL itself: it holds the webhook's token.
  if (!url.starts_with("https://") && !url.starts_with("http://")) return permanent("url: the template did not give an http(s):// URL");
  return {};
}

Result<std::optional<Rendering>> render_messages(std::string url, Result<Messages> messages) {
  if (Status s = check_url(url); !s) return s.error();
  if (!messages) return messages.error();
  Rendering out;
  out.method = "POST";
  out.url = std::move(url);
  out.headers.set("Content-Type", kContentType);
  if (messages->bodies.size() == 1) {
    out.body = std::move(messages->bodies.front());
  } else {
    out.body = "[";
    for (std::size_t i = 0; i < messages->bodies.size(); ++i) out.body += (i ? "," : "") + messages->bodies[i];
    out.body += "]";
  }
  return std::optional<Rendering>(std::move(out));
}

void MessageSender::deliver(const Event& event, std::string url, Result<Messages> messages, DeliveryCallback done) {
  if (Status s = check_url(url); !s) return done(s.error());
  if (!messages) return done(messages.error());
  for (const auto& note : messages->notes) context_.logger().debug("event " + event.id + ": " + note);
  send(event.id, std::move(url), std::move(messages->bodies), std::move(done));
}

void MessageSender::send_next(const std::shared_ptr<Delivery>& delivery, bool waited) {
  if (delivery->next >= delivery->bodies.size()) return finish(delivery, {});
  milliseconds wait{0};
  if (!waited) {
    std::lock_guard lock(mutex_);
    if (auto it = paused_until_.find(delivery->url); it != paused_until_.end()) {
      const auto now = Clock::now();
      if (it->second > now) {
        wait = std::chrono::ceil<milliseconds>(it->second - now);
      } else {
        paused_until_.erase(it);
      }
    }
  }
  if (wait > milliseconds(0)) {
    if (!delivery->timer) delivery->timer = context_.executor().make_timer();
    std::weak_ptr<Delivery> weak = delivery;
    delivery->timer->expires_after(wait, [this, weak] {
      if (auto d = weak.lock()) send_next(d, true);
    });
    return;
  }
  if (!client_) return finish(delivery, retryable("sink stopped"));
  HttpClientRequest request;
  request.method = "POST";
  request.url = delivery->url;
  request.body = delivery->bodies[delivery->next];
  request.headers.set("Content-Type", kContentType);
  std::weak_ptr<Delivery> weak = delivery;
  client_->send(std::move(request), [this, weak](Result<HttpClientResponse> result) {
    if (auto d = weak.lock()) on_answer(d, std::move(result));
  });
}

void MessageSender::pause(const std::string& url, milliseconds for_how_long) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  // URLs made per event (an interaction's follow-up URL) are seldom seen twice: pauses
  // that are over go, so the map stays small.
  if (paused_until_.size() >= 1024) std::erase_if(paused_until_, [now](const auto& p) { return p.second <= now; });
  auto& until = paused_until_[url];
  until = std::max(until, now + for_how_long);
}

void MessageSender::on_answer(const std::shared_ptr<Delivery>& delivery, Result<HttpClientResponse> result) {
  if (!result) return finish(delivery, result.error());
  const HttpClientResponse& response = *result;
  std::optional<milliseconds> paused = pause_after_(response);
  if (response.status == 429 && !paused) paused = milliseconds(1000);
  if (paused) pause(delivery->url, *paused);
  if (response.status >= 200 && response.status < 300) {
    ++delivery->next;
    if (delivery->next < delivery->bodies.size()) {
      std::lock_guard lock(mutex_);
      // Bounded: an event the delivery layer gave up on is never finished here. Forgetting
      // one means a later replay of it resends its first messages, nothing worse.
      if (sent_.size() >= kMaxRemembered && !sent_.contains(delivery->event_id)) sent_.erase(sent_.begin());
      sent_[delivery->event_id] = delivery->next;
    }
    return send_next(delivery, false);
  }
  if (response.status == 429) {
    return finish(delivery, retryable("rate limited (HTTP 429); retry in " + std::to_string(paused->count()) + " ms",
                                      paused));
  }
  finish(delivery, classify_http_response(response));
}

void MessageSender::finish(const std::shared_ptr<Delivery>& delivery, Status status) {
  DeliveryCallback done = std::move(delivery->done);
  {
    std::lock_guard lock(mutex_);
    // Done, or dead-lettered: a replay starts from the first message again.
    if (status || status.error().kind != ErrorKind::retryable) sent_.erase(delivery->event_id);
    in_flight_.erase(delivery);
  }
  if (done) done(std::move(status));
}

}  // namespace switchyard::chat
