#pragma once
// What running components say about themselves (Context::report_health): who cannot do its
// work now and why. Read by /readyz (not ready while any problem stands) and /api/pipelines.
// A component's entry goes when its context does: a stopped component is not a problem.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace switchyard::runtime {

class HealthBook {
 public:
  struct Problem {
    std::string pipeline;
    std::string component;
    std::string problem;
  };

  /// A key for one component's context (several versions of a pipeline may run at once).
  std::uint64_t enroll() {
    std::lock_guard lock(mutex_);
    return ++next_;
  }
  void set(std::uint64_t key, std::string pipeline, std::string component, std::string problem) {
    std::lock_guard lock(mutex_);
    problems_[key] = Problem{std::move(pipeline), std::move(component), std::move(problem)};
  }
  void clear(std::uint64_t key) {
    std::lock_guard lock(mutex_);
    problems_.erase(key);
  }
  /// The problems standing now, oldest component first.
  std::vector<Problem> problems() const {
    std::lock_guard lock(mutex_);
    std::vector<Problem> out;
    for (const auto& [key, p] : problems_) out.push_back(p);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::uint64_t next_ = 0;
  std::map<std::uint64_t, Problem> problems_;
};

}  // namespace switchyard::runtime
