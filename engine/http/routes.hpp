#pragma once
// Internal: the listener's route table — method → path → the route serving it. A route of
// a pipeline may shadow its previous version's route on the same path (hot reload) and
// hands it back if it goes first. Lookups copy the entry's shared_ptr, so a route removed
// while a request is in its handler stays alive until that handler is done with it.
// Two more states serve start and reload: paths *expected* (configured, their pipeline not
// up yet: answered 503, not 404) and owners *yielding* (pipelines a reload replaces or
// stops: another pipeline's new version may take their paths over, as in a path swap or a
// rename).

#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.hpp"
#include "switchyard/metrics.hpp"

namespace switchyard::http {

class WebSocketRoute;  // websocket.hpp

/// switchyard_http_route_answers_total of one route, by status class (2xx..5xx); counters
/// live in the registry for the process's life, so a session may keep a copy past the route.
struct RouteAnswers {
  Counter* by_class[4] = {};
  void answered(int status) const {
    if (status >= 200 && status <= 599 && by_class[status / 100 - 2] != nullptr) by_class[status / 100 - 2]->inc();
  }
};

struct RouteEntry {
  HttpHandler handler;
  std::uint64_t max_body = 0;
  std::string owner;  // the pipeline that registered it; empty: none
  // The route this one replaced (the previous version of the same pipeline during a hot
  // reload); it serves again if this one goes first.
  std::shared_ptr<RouteEntry> shadowed;
  EventStreamHandler stream;  // set: a Server-Sent Events route (handler is empty)
  std::size_t max_buffered = 0;
  std::shared_ptr<WebSocketRoute> websocket;  // set: a WebSocket route (handler is empty)
  std::uint64_t serial = 0;  // order of addition (set by the table)
  RouteAnswers answers;      // set by the server when it adds the route
};

class RouteTable : public std::enable_shared_from_this<RouteTable> {
 public:
  /// The route for method + path; when only other methods match, `allow` lists them.
  std::shared_ptr<RouteEntry> find(std::string_view method, std::string_view path, std::string& allow) const;
  /// Adds `entry` (its owner may take over its own previous version's path); the handle
  /// removes it when destroyed.
  Result<std::unique_ptr<HttpRoute>> add(const std::string& method, const std::string& path,
                                         std::shared_ptr<RouteEntry> entry);

  /// Paths whose pipelines are starting: until a route serves them (or forget()), they
  /// answer 503 instead of 404.
  void expect(const std::vector<std::string>& paths);
  void forget(const std::vector<std::string>& paths);
  bool expected(std::string_view path) const;

  /// Owners whose routes a route of another owner may shadow (the pipelines a reload
  /// replaces or stops); an empty set ends it.
  void yield(std::set<std::string, std::less<>> owners);

 private:
  friend class RouteHandle;
  void remove(const std::string& method, const std::string& path, const std::shared_ptr<RouteEntry>& entry);

  mutable std::shared_mutex mutex_;
  std::map<std::string, std::map<std::string, std::shared_ptr<RouteEntry>, std::less<>>, std::less<>> routes_;
  std::multiset<std::string, std::less<>> expected_;
  std::set<std::string, std::less<>> yielding_;
  std::uint64_t added_ = 0;
  std::uint64_t yield_below_ = 0;  // only routes added before yield() was called yield
};

}  // namespace switchyard::http
