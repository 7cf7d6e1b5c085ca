#include "rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace switchyard::core {
namespace {

constexpr const char* kOverLimit[] = {"drop", "delay"};

constexpr OptionSpec kOptions[] = {
    {.name = "rate", .type = OptionType::integer, .required = true,
     .description = "Events allowed per `per`, per key.", .example = "60"},
    {.name = "per", .type = OptionType::duration, .default_value = "1m",
     .description = "The period of `rate`."},
    {.name = "burst", .type = OptionType::integer, .default_value = "0",
     .description = "Bucket size: events allowed at once after a quiet spell; 0 means `rate`."},
    {.name = "key", .type = OptionType::text_template, .default_value = "",
     .description = "Separate limit per value (e.g. per repository); empty: one limit for all.",
     .example = "${{ payload.repository.full_name }}"},
    {.name = "max_keys", .type = OptionType::integer, .default_value = "100000",
     .description = "Buckets kept at most; full (idle) buckets are forgotten first."},
    {.name = "over_limit", .type = OptionType::string, .default_value = "drop",
     .description = "What happens to an event over the limit: drop it, or delay it — it goes on "
                    "at once (journaled, acknowledged) and its sinks deliver it when the bucket "
                    "has a token for it, in order per key.",
     .choices = kOverLimit},
    {.name = "max_delay", .type = OptionType::duration, .default_value = "10m",
     .description = "Delay mode: an event that would wait longer than this is dropped instead."},
};

}  // namespace

const ComponentDecl kRateLimitDecl{
    .kind = ComponentKind::transform,
    .type = "rate_limit",
    .summary = "Token bucket per key; events over the limit are dropped or delayed.",
    .options = kOptions,
    .create = &make_component<RateLimitTransform>,
};

Status RateLimitTransform::configure(const Options& options, Context& context) {
  context_ = &context;
  const std::int64_t rate = options.integer("rate");
  const auto per = options.duration("per");
  const std::int64_t burst = options.integer("burst");
  max_keys_ = static_cast<std::size_t>(std::max<std::int64_t>(1, options.integer("max_keys")));
  if (rate <= 0) return invalid_config("rate: must be at least 1");
  if (per.count() <= 0) return invalid_config("per: must be positive");
  if (burst < 0) return invalid_config("burst: must be 0 or more");
  capacity_ = static_cast<double>(burst > 0 ? burst : rate);
  per_ms_ = static_cast<double>(rate) / static_cast<double>(per.count());
  key_ = options.template_of("key");
  delay_ = options.string("over_limit") == "delay";
  max_delay_ = options.duration("max_delay");
  return {};
}

void RateLimitTransform::evict(Clock::time_point now) {
  // Buckets that have refilled completely hold no information: drop those first.
  std::erase_if(buckets_, [&](const auto& kv) {
    const double ms = std::chrono::duration<double, std::milli>(now - kv.second.updated).count();
    return kv.second.tokens + ms * per_ms_ >= capacity_;
  });
  // Then the partly refilled ones. Buckets in debt stay: they pace events already delayed,
  // and forgetting one would let its key's next events overtake them. (They clear within
  // max_delay, so their number is bounded by the rate at which keys go over the limit.)
  if (buckets_.size() >= max_keys_) std::erase_if(buckets_, [](const auto& kv) { return kv.second.tokens >= 0; });
}

RateLimitTransform::Decision RateLimitTransform::admit(const std::string& key, Clock::time_point now) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) evict(now);
    it = buckets_.emplace(key, Bucket{capacity_, now}).first;
  }
  Bucket& b = it->second;
  const double ms = std::chrono::duration<double, std::milli>(now - b.updated).count();
  b.tokens = std::min(capacity_, b.tokens + std::max(0.0, ms) * per_ms_);
  b.updated = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return {};
  }
  if (!delay_) return {Verdict::drop};
  // Delay: the event takes a token the bucket does not have yet (tokens go below zero), so
  // each further event over the limit waits one period/rate longer than the one before.
  const auto wait = std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil((1.0 - b.tokens) / per_ms_)));
  if (wait > max_delay_) return {Verdict::drop};
  b.tokens -= 1.0;
  return {Verdict::keep, wait};
}

Result<Verdict> RateLimitTransform::apply(Event& event) {
  std::string key;
  if (key_) key_->render_string(event, key);
  const Decision d = admit(key, Clock::now());
  if (d.verdict == Verdict::drop) {
    ++dropped_;
    if (context_->logger().enabled(LogLevel::debug)) {
      context_->logger().debug("event " + event.id + " over the rate limit for '" + key + "'; dropped");
    }
  } else if (d.delay.count() > 0) {
    event.not_before = std::max(event.not_before, std::chrono::system_clock::now() + d.delay);
  }
  return d.verdict;
}

}  // namespace switchyard::core
