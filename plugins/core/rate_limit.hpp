#pragma once
// `rate_limit` transform: a token bucket per key; events over the limit are dropped, or
// delayed until the bucket has a token for them (sinks hold them until then).

#include <chrono>
#include <string>
#include <unordered_map>

#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kRateLimitDecl;

class RateLimitTransform final : public Transform {
 public:
  using Clock = std::chrono::steady_clock;
  Status configure(const Options& options, Context& context) override;
  bool changes_payload() const override { return false; }  // reads it only
  Result<Verdict> apply(Event& event) override;
  struct Decision {
    Verdict verdict = Verdict::keep;
    std::chrono::milliseconds delay{0};  ///< delay mode: how long sinks hold the event
  };
  /// For tests: decide at a given time.
  Decision admit(const std::string& key, Clock::time_point now);

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void evict(Clock::time_point now);

  const Template* key_ = nullptr;
  double capacity_ = 0;
  double per_ms_ = 0;  // tokens added per millisecond
  std::size_t max_keys_ = 0;
  bool delay_ = false;                   // over the limit: delay (else drop)
  std::chrono::milliseconds max_delay_{0};  // delay mode: longer waits are dropped
  std::unordered_map<std::string, Bucket> buckets_;
  std::uint64_t dropped_ = 0;
  Context* context_ = nullptr;
};

}  // namespace switchyard::core
