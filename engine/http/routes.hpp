#pragma once
// Internal: the listener's route table — method → path → the route serving it. A route of
// a pipeline may shadow its previous version's route on the same path (hot reload) and
// hands it back if it goes first. Lookups copy the entry's shared_ptr, so a route removed
// while a request is in its handler stays alive until that handler is done with it.

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "http/server.hpp"

namespace switchyard::http {

class WebSocketRoute;  // websocket.hpp

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
};

class RouteTable : public std::enable_shared_from_this<RouteTable> {
 public:
  /// The route for method + path; when only other methods match, `allow` lists them.
  std::shared_ptr<RouteEntry> find(std::string_view method, std::string_view path, std::string& allow) const;
  /// Adds `entry` (its owner may take over its own previous version's path); the handle
  /// removes it when destroyed.
  Result<std::unique_ptr<HttpRoute>> add(const std::string& method, const std::string& path,
                                         std::shared_ptr<RouteEntry> entry);

 private:
  friend class RouteHandle;
  void remove(const std::string& method, const std::string& path, const std::shared_ptr<RouteEntry>& entry);

  mutable std::shared_mutex mutex_;
  std::map<std::string, std::map<std::string, std::shared_ptr<RouteEntry>, std::less<>>, std::less<>> routes_;
};

}  // namespace switchyard::http
