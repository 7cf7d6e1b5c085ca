#include "http/routes.hpp"

#include <mutex>

namespace switchyard::http {

std::shared_ptr<RouteEntry> RouteTable::find(std::string_view method, std::string_view path,
                                             std::string& allow) const {
  std::shared_lock lock(mutex_);
  if (auto m = routes_.find(method); m != routes_.end()) {
    if (auto p = m->second.find(path); p != m->second.end()) return p->second;
  }
  for (const auto& [name, paths] : routes_) {
    if (paths.find(path) != paths.end()) allow += (allow.empty() ? "" : ", ") + name;
  }
  return nullptr;
}

class RouteHandle final : public HttpRoute {
 public:
  RouteHandle(std::weak_ptr<RouteTable> table, std::string method, std::string path, std::shared_ptr<RouteEntry> entry)
      : table_(std::move(table)), method_(std::move(method)), path_(std::move(path)), entry_(std::move(entry)) {}
  ~RouteHandle() override {
    if (auto table = table_.lock()) table->remove(method_, path_, entry_);
  }

 private:
  std::weak_ptr<RouteTable> table_;
  std::string method_, path_;
  std::shared_ptr<RouteEntry> entry_;
};

Result<std::unique_ptr<HttpRoute>> RouteTable::add(const std::string& method, const std::string& path,
                                                   std::shared_ptr<RouteEntry> entry) {
  {
    std::unique_lock lock(mutex_);
    entry->serial = ++added_;
    auto& paths = routes_[method];
    auto it = paths.find(path);
    if (it != paths.end()) {
      const bool own = !entry->owner.empty() && it->second->owner == entry->owner;
      const bool yielded = !entry->owner.empty() && it->second->serial < yield_below_ &&
                           yielding_.count(it->second->owner) != 0;
      if (!own && !yielded) {
        return invalid_config(method + " " + path + " is already served by " +
                              (it->second->owner.empty() ? std::string("another component")
                                                         : "pipeline '" + it->second->owner + "'"));
      }
      // A new version of the same pipeline, or a pipeline taking over the path of one this
      // reload replaces or stops: it serves from now on.
      entry->shadowed = it->second;
      it->second = entry;
    } else {
      paths.emplace(path, entry);
    }
  }
  return std::unique_ptr<HttpRoute>(std::make_unique<RouteHandle>(weak_from_this(), method, path, std::move(entry)));
}

void RouteTable::expect(const std::vector<std::string>& paths) {
  std::unique_lock lock(mutex_);
  expected_.insert(paths.begin(), paths.end());
}

void RouteTable::forget(const std::vector<std::string>& paths) {
  std::unique_lock lock(mutex_);
  for (const auto& path : paths) {
    if (auto it = expected_.find(path); it != expected_.end()) expected_.erase(it);
  }
}

bool RouteTable::expected(std::string_view path) const {
  std::shared_lock lock(mutex_);
  return expected_.find(path) != expected_.end();
}

void RouteTable::yield(std::set<std::string, std::less<>> owners) {
  std::unique_lock lock(mutex_);
  yielding_ = std::move(owners);
  yield_below_ = added_ + 1;
}

void RouteTable::remove(const std::string& method, const std::string& path, const std::shared_ptr<RouteEntry>& entry) {
  std::unique_lock lock(mutex_);
  auto m = routes_.find(method);
  if (m == routes_.end()) return;
  auto p = m->second.find(path);
  if (p == m->second.end()) return;
  if (p->second == entry) {
    // The serving route goes: the one it shadowed (if any) serves again.
    if (entry->shadowed) {
      p->second = entry->shadowed;
    } else {
      m->second.erase(p);
    }
  } else {
    // A shadowed route goes (the old version after a reload): unlink it from the chain.
    for (auto* e = &p->second; *e; e = &(*e)->shadowed) {
      if ((*e)->shadowed == entry) {
        (*e)->shadowed = entry->shadowed;
        break;
      }
    }
  }
  if (m->second.empty()) routes_.erase(m);
}

}  // namespace switchyard::http
