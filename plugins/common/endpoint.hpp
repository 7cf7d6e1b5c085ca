#pragma once
// The HTTP route of a source on the shared listener, with the lifecycle every such source
// needs: requests reach the handler only while the source runs; while it drains they are
// answered 503 + Retry-After (senders retry later; a 404 would say the endpoint is gone);
// close() removes the route and waits for the handlers already inside.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "switchyard/switchyard.hpp"

namespace switchyard::intake {

class Endpoint {
  struct State {
    HttpGate gate;
    std::atomic<bool> draining{false};
  };

 public:
  using Handler = std::function<void(const HttpRequest&, HttpReply)>;

  /// A copyable handle for work that outlives a handler (an emit's callback): enter()
  /// gives a pass only while the source has not stopped.
  class Gate {
   public:
    std::optional<HttpGate::Pass> enter() const { return state_ ? state_->gate.enter() : std::nullopt; }

   private:
    friend class Endpoint;
    std::shared_ptr<State> state_;
  };

  Gate gate() const {
    Gate g;
    g.state_ = state_;
    return g;
  }

  /// Registers `method path` with the handler.
  Status open(Context& context, const std::string& method, const std::string& path, std::size_t max_body,
              Handler handler) {
    auto route = context.routes().add(
        method, path,
        [state = state_, handler = std::move(handler)](const HttpRequest& request, HttpReply reply) {
          auto pass = state->gate.enter();
          if (!pass || state->draining.load(std::memory_order_acquire)) {
            return reply(HttpResponse::unavailable("pipeline is stopping; retry later", 10));
          }
          handler(request, std::move(reply));
        },
        HttpRouteOptions{.max_body = max_body});
    if (!route) return route.error();
    route_ = std::move(*route);
    return {};
  }

  /// From now on requests are answered 503; the route stays until close().
  void drain() { state_->draining.store(true, std::memory_order_release); }

  void close() {
    route_.reset();
    state_->gate.close();
  }

 private:
  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::unique_ptr<HttpRoute> route_;
};

}  // namespace switchyard::intake
