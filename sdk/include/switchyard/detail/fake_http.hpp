#pragma once
// Part of the test harness (switchyard/testing.hpp): HTTP without sockets. The harness's
// listener records the routes a component adds so a test can call them directly, and its
// outbound client answers from a test-supplied function and records every request.

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/context.hpp"
#include "switchyard/detail/fake_services.hpp"
#include "switchyard/detail/fake_websocket.hpp"
#include "switchyard/http.hpp"
#include "switchyard/websocket.hpp"

namespace switchyard::testing {

/// The listener of the harness: records routes so a test can call them directly.
class CapturingRoutes final : public HttpRoutes {
 public:
  struct Entry {
    std::string method;
    std::string path;
    HttpHandler handler;
    HttpRouteOptions options;
    bool live = true;
    std::shared_ptr<WebSocketHandler> websocket;  // set: a WebSocket route
    WebSocketOptions websocket_options;
  };

  /// Where WebSocket callbacks run (the TestContext sets its executor).
  void use_executor(Executor& executor) { executor_ = &executor; }

  Result<std::unique_ptr<HttpRoute>> add_websocket(std::string path, std::shared_ptr<WebSocketHandler> handler,
                                                   const WebSocketOptions& options) override {
    if (!handler) return invalid_config("route " + path + " has no handler");
    auto added = add("GET", std::move(path), nullptr, {});
    if (added) {
      entries_->back().websocket = std::move(handler);
      entries_->back().websocket_options = options;
    }
    return added;
  }

  /// Runs an upgrade request on the WebSocket route `path` as the engine does: the handler's
  /// refusal, or an open connection (its opened() is queued on the executor). 404 when no
  /// WebSocket route is there.
  FakeWebSocket connect_websocket(std::string_view path, const HttpHeaders& headers, std::string_view remote) {
    const Entry* entry = find("GET", path);
    if (entry == nullptr || !entry->websocket) return {HttpResponse::error(404, "no route"), nullptr};
    std::string offered;
    for (const auto& f : headers) {
      if (iequals(f.name, "Sec-WebSocket-Protocol")) offered += (offered.empty() ? "" : ", ") + f.value;
    }
    const auto subprotocols = parse_subprotocols(offered);
    const HttpRequest request{"GET", path, {}, headers, std::string_view("", 0), remote};
    WebSocketUpgrade decision = entry->websocket->upgrade(WebSocketRequest{request, subprotocols});
    if (decision.refusal) return {std::move(decision.refusal), nullptr};
    if (!decision.subprotocol.empty() &&
        std::find(subprotocols.begin(), subprotocols.end(), decision.subprotocol) == subprotocols.end()) {
      return {HttpResponse::error(500, "the handler chose a subprotocol the client did not offer"), nullptr};
    }
    if (executor_ == nullptr) return {HttpResponse::error(500, "CapturingRoutes has no executor"), nullptr};
    auto connection = std::make_shared<FakeWebSocketConnection>(*executor_, entry->websocket, entry->websocket_options,
                                                                ++next_connection_, std::string(remote),
                                                                std::move(decision));
    executor_->post([handler = entry->websocket, connection] { handler->opened(connection); });
    return {std::nullopt, std::move(connection)};
  }

  /// The options the WebSocket route on `path` was registered with (nullptr: no such route).
  const WebSocketOptions* websocket_options(std::string_view path) const {
    const Entry* entry = find("GET", path);
    return entry && entry->websocket ? &entry->websocket_options : nullptr;
  }

  Result<std::unique_ptr<HttpRoute>> add(std::string method, std::string path,
                                         HttpHandler handler, HttpRouteOptions options) override {
    for (const auto& e : *entries_) {
      if (e.live && e.method == method && e.path == path) {
        return invalid_config(method + " " + path + " is already registered");
      }
    }
    entries_->push_back({std::move(method), std::move(path), std::move(handler), options, true});
    return std::unique_ptr<HttpRoute>(new Handle(entries_, entries_->size() - 1));
  }

  /// Whether `method path` is registered now.
  bool has(std::string_view method, std::string_view path) const {
    return find(method, path) != nullptr;
  }

  /// Calls the handler of `method path` and returns its answer; runs `pump` (e.g. the
  /// executor) until the handler replies. 404 when no route matches, as the engine does.
  HttpResponse call(std::string_view method, std::string_view path, const HttpHeaders& headers,
                    std::string_view body, const std::function<void()>& pump = {}) {
    const Entry* entry = find(method, path);
    if (entry == nullptr) return HttpResponse::error(404, "no route");
    auto outcome = std::make_shared<std::optional<HttpResponse>>();
    const std::string owned(body);  // a body is followed by a NUL, as the engine's are
    HttpRequest request{method, path, {}, headers, owned, "127.0.0.1:1"};
    entry->handler(request, [outcome](HttpResponse r) {
      if (!*outcome) *outcome = std::move(r);
    });
    for (int i = 0; i < 1000 && !*outcome && pump; ++i) pump();
    if (!*outcome) return HttpResponse::error(599, "handler did not reply");
    return std::move(**outcome);
  }

 private:
  struct Handle final : HttpRoute {
    Handle(std::shared_ptr<std::vector<Entry>> entries, std::size_t index)
        : entries(std::move(entries)), index(index) {}
    ~Handle() override { (*entries)[index].live = false; }
    std::shared_ptr<std::vector<Entry>> entries;
    std::size_t index;
  };
  const Entry* find(std::string_view method, std::string_view path) const {
    for (const auto& e : *entries_) {
      if (e.live && e.method == method && e.path == path) return &e;
    }
    return nullptr;
  }
  std::shared_ptr<std::vector<Entry>> entries_ = std::make_shared<std::vector<Entry>>();
  Executor* executor_ = nullptr;
  std::uint64_t next_connection_ = 0;
};

/// The outbound client of the harness: answers from a test-supplied function and records
/// every request. Callbacks run on the manual executor, as the engine runs them on the strand.
class ScriptedHttpClient final : public HttpClient {
 public:
  using Responder = std::function<Result<HttpClientResponse>(const HttpClientRequest&)>;
  ScriptedHttpClient(Executor& executor, std::shared_ptr<Responder> responder,
                     std::shared_ptr<std::vector<HttpClientRequest>> log)
      : executor_(executor), responder_(std::move(responder)), log_(std::move(log)) {}
  void send(HttpClientRequest request, HttpClientCallback done) override {
    log_->push_back(request);
    Result<HttpClientResponse> result =
        *responder_ ? (*responder_)(request)
                    : Result<HttpClientResponse>(permanent("no responder set in the harness"));
    executor_.post([done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

 private:
  Executor& executor_;
  std::shared_ptr<Responder> responder_;
  std::shared_ptr<std::vector<HttpClientRequest>> log_;
};

}  // namespace switchyard::testing
