#pragma once
// Internal: WebSocket routes of the listener. A route (WebSocketRoute) holds the component's
// handler and settings and keeps track of its connections; session.cpp hands an HTTP
// connection whose request is an upgrade on such a route to upgrade_websocket(), and
// websocket.cpp runs it from there on (Boost.Beast websocket::stream, without
// permessage-deflate). Beast stays in engine/http.

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "switchyard/context.hpp"
#include "switchyard/websocket.hpp"

namespace switchyard::http {

struct Listener;
class WebSocketConnectionImpl;  // websocket.cpp

/// What a WebSocket route shares with its connections: the component's handler, where its
/// callbacks run, and the open connections (closed with 1001 when the route is removed).
class WebSocketRoute : public std::enable_shared_from_this<WebSocketRoute> {
 public:
  /// `executor`: the registering component's (callbacks run on its strand); nullptr runs
  /// them on the connection's own strand.
  WebSocketRoute(std::shared_ptr<WebSocketHandler> handler, WebSocketOptions options, Executor* executor)
      : handler_(std::move(handler)), options_(options), executor_(executor) {}

  const WebSocketOptions& options() const { return options_; }
  /// The handler's decision; nullopt once the route is removed.
  std::optional<WebSocketUpgrade> upgrade(const WebSocketRequest& request);
  /// Runs `task` with the handler where its callbacks run. Dropped once the route is
  /// removed, including tasks posted before but not run yet.
  void post(std::function<void(WebSocketHandler&)> task);
  /// Remembers an open connection, to close it when the route goes; false when it is gone.
  bool track(const std::shared_ptr<WebSocketConnectionImpl>& connection);
  /// The route is gone: no call reaches the handler any more; open connections close (1001).
  void detach();

 private:
  std::shared_ptr<WebSocketHandler> handler_;
  const WebSocketOptions options_;
  Executor* const executor_;
  // Calls into the handler hold a pass; detach() waits for those in progress.
  HttpGate gate_;
  std::shared_ptr<std::atomic<bool>> detached_ = std::make_shared<std::atomic<bool>>(false);
  std::mutex mutex_;
  std::vector<std::weak_ptr<WebSocketConnectionImpl>> connections_;
  std::size_t live_after_prune_ = 0;
};

/// The handle of a WebSocket route: removes it from the route table, then detaches it.
class WebSocketRouteHandle final : public HttpRoute {
 public:
  WebSocketRouteHandle(std::unique_ptr<HttpRoute> entry, std::shared_ptr<WebSocketRoute> route)
      : entry_(std::move(entry)), route_(std::move(route)) {}
  ~WebSocketRouteHandle() override {
    entry_.reset();
    route_->detach();
  }

 private:
  std::unique_ptr<HttpRoute> entry_;
  std::shared_ptr<WebSocketRoute> route_;
};

/// Waits up to `limit` for the listener's WebSocket connections to end: after their routes
/// went (pipelines stopped), so that clients get their close frame (1001) before the engine
/// stops its threads. Not from an I/O thread.
void await_websockets(Listener& listener, std::chrono::milliseconds limit);

/// Answers the upgrade request whose header `parser` holds, on `route`. Returns the answer
/// for the session to write when the upgrade does not happen (426 for a request that is no
/// upgrade, 400, the handler's refusal); nullopt when the connection became a WebSocket:
/// `stream` has been moved from and the session is done with it, and the WebSocket took over
/// `address` (the client's count in Listener::connections), leaving it empty.
std::optional<HttpResponse> upgrade_websocket(const std::shared_ptr<Listener>& listener, boost::beast::tcp_stream& stream,
                                              boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
                                              bool bytes_after_request, const std::shared_ptr<WebSocketRoute>& route,
                                              std::string_view remote, std::string& address);
std::optional<HttpResponse> upgrade_websocket(const std::shared_ptr<Listener>& listener,
                                              boost::beast::ssl_stream<boost::beast::tcp_stream>& stream,
                                              boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
                                              bool bytes_after_request, const std::shared_ptr<WebSocketRoute>& route,
                                              std::string_view remote, std::string& address);

}  // namespace switchyard::http
