#include "http_request.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "common/json_limits.hpp"
#include "rendered_url.hpp"

namespace switchyard::http_plugin {
namespace {

std::string human(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

struct HttpRequestTransform::Call {
  Event* event = nullptr;
  TransformCallback done;
  std::unique_ptr<Timer> deadline;
  std::chrono::steady_clock::time_point started;
  bool finished = false;
};

struct HttpRequestTransform::Fetch {
  HttpClientRequest request;
  std::string key;  // cache key; empty when answers are not cached
  std::vector<std::shared_ptr<Call>> calls;
};

Status HttpRequestTransform::start() {
  client_ = context_->http_client(client_options_);
  if (cache_ttl_.count() > 0) cache_ = std::make_unique<ResponseCache>(context_->executor(), cache_ttl_, cache_bytes_);
  return {};
}

void HttpRequestTransform::stop() {
  alive_.reset();
  client_.reset();  // cancels what is on the wire, without calling back
  cache_.reset();
  sharing_.clear();
  queued_.clear();
  active_ = 0;
  auto waiting = std::move(in_flight_);
  in_flight_.clear();
  for (const auto& call : waiting) finish(call, retryable("the transform stopped before the answer came"));
}

Result<HttpClientRequest> HttpRequestTransform::build(const Event& event) const {
  HttpClientRequest request;
  request.method = method_;
  request.url = url_.render(event);
  if (!url_.is_constant()) {
    if (Status s = check_rendered_url(request.url, pinned_); !s) return s.error();
  }
  request.headers = headers_;
  for (const auto& [name, value] : header_templates_) {
    std::string rendered = value.render(event);
    // A value taken from the event must not smuggle in a header of its own.
    if (rendered.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return permanent("header " + name + ": the rendered value holds a line break");
    }
    request.headers.set(name, std::move(rendered));
  }
  if (!request.headers.get("Accept")) request.headers.set("Accept", "application/json");
  if (body_ != nullptr) {
    rapidjson::Document doc;
    body_->render(event, doc, doc.GetAllocator());
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    doc.Accept(writer);
    request.body.assign(buffer.GetString(), buffer.GetSize());
    if (!request.headers.get("Content-Type")) request.headers.set("Content-Type", "application/json");
  }
  request.timeout = timeout_;
  return request;
}

void HttpRequestTransform::process(Event& event, TransformCallback done) {
  auto call = std::make_shared<Call>();
  call->event = &event;
  call->done = std::move(done);
  call->started = std::chrono::steady_clock::now();
  in_flight_.insert(call);
  if (!client_) return fail(call, retryable("the transform is not running"));
  auto request = build(event);
  if (!request) return fail(call, request.error());

  std::string key;
  if (cache_) {
    key = request->url;
    for (const auto& field : request->headers) key.append("\n").append(field.name).append(": ").append(field.value);
    if (auto answer = cache_->find(key)) {
      cache_hits_->inc();
      return attach(call, *answer);
    }
  }
  call->deadline = context_->executor().make_timer();
  call->deadline->expires_after(timeout_, [this, call] {
    fail(call, retryable("no answer within " + human(timeout_) + " (timeout)"));
  });
  if (!key.empty()) {
    if (auto it = sharing_.find(key); it != sharing_.end()) {
      it->second->calls.push_back(call);  // the same GET is already on its way
      return;
    }
  }
  auto fetch = std::make_shared<Fetch>(Fetch{std::move(*request), std::move(key), {call}});
  if (!fetch->key.empty()) sharing_.emplace(fetch->key, fetch);
  if (active_ >= concurrency_) return queued_.push_back(std::move(fetch));
  send(fetch);
}

void HttpRequestTransform::send(const std::shared_ptr<Fetch>& fetch) {
  ++active_;
  HttpClientRequest request = fetch->request;  // kept: a shared GET's key and log need it
  client_->send(std::move(request),
                [this, alive = std::weak_ptr<char>(alive_), fetch](Result<HttpClientResponse> result) {
                  if (alive.expired()) return;
                  answered(fetch, std::move(result));
                });
}

void HttpRequestTransform::next_queued() {
  while (active_ < concurrency_ && !queued_.empty()) {
    auto fetch = std::move(queued_.front());
    queued_.pop_front();
    // Every event of it gave up waiting (timeout): nobody needs the answer.
    if (std::all_of(fetch->calls.begin(), fetch->calls.end(), [](const auto& c) { return c->finished; })) {
      if (auto it = sharing_.find(fetch->key); it != sharing_.end() && it->second == fetch) sharing_.erase(it);
      continue;
    }
    send(fetch);
  }
}

void HttpRequestTransform::answered(const std::shared_ptr<Fetch>& fetch, Result<HttpClientResponse> result) {
  --active_;
  if (!fetch->key.empty()) {
    if (auto it = sharing_.find(fetch->key); it != sharing_.end() && it->second == fetch) sharing_.erase(it);
  }
  std::optional<Error> error;
  auto answer = std::make_shared<rapidjson::Document>();
  if (!result) {
    error = result.error();
  } else if (Status s = classify_http_response(*result); !s) {
    error = s.error();
  } else if (result->body.empty()) {
    answer->SetNull();
  } else if (auto parsed = json_limits::parse(*answer, result->body); !parsed) {
    error = permanent(parsed.error().outcome == json_limits::Outcome::too_deep
                          ? "the answer nests deeper than " + std::to_string(json_limits::kMaxDepth) + " levels"
                          : "the answer is not JSON (at byte " + std::to_string(parsed.error().offset) + ")");
  }
  if (!error && cache_ && !fetch->key.empty()) cache_->put(fetch->key, answer, result->body.size());
  for (const auto& call : std::exchange(fetch->calls, {})) {
    if (call->finished) continue;
    if (error) {
      fail(call, *error);
    } else {
      attach(call, *answer);
    }
  }
  next_queued();
}

void HttpRequestTransform::attach(const std::shared_ptr<Call>& call, const rapidjson::Value& answer) {
  if (call->finished) return;
  rapidjson::Value copy(answer, call->event->allocator());
  if (Status s = into_.set(*call->event, copy); !s) return fail(call, permanent("into: " + s.error().message));
  finish(call, Verdict::keep);
}

void HttpRequestTransform::fail(const std::shared_ptr<Call>& call, Error error) {
  if (call->finished) return;
  failures_->inc();
  switch (on_error_) {
    case OnError::fail:
      return finish(call, std::move(error));
    case OnError::drop:
      context_->logger().warn("event " + call->event->id + ": " + error.message + "; dropped (on_error: drop)");
      return finish(call, Verdict::drop);
    case OnError::pass: {
      rapidjson::Value nothing;
      if (into_.set(*call->event, nothing)) {
        context_->logger().warn("event " + call->event->id + ": " + error.message +
                                "; passed on without an answer (on_error: pass)");
        return finish(call, Verdict::keep);
      }
      return finish(call, std::move(error));
    }
  }
}

void HttpRequestTransform::finish(const std::shared_ptr<Call>& call, Result<Verdict> verdict) {
  if (call->finished) return;
  call->finished = true;
  in_flight_.erase(call);
  latency_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - call->started).count());
  auto done = std::move(call->done);
  call->deadline.reset();  // its callback holds the call: break the cycle
  done(std::move(verdict));
}

}  // namespace switchyard::http_plugin
