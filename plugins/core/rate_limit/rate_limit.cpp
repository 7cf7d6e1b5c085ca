#include "rate_limit/rate_limit.hpp"

#include <algorithm>

namespace switchyard::core {
namespace {

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
};

}  // namespace

const ComponentDecl kRateLimitDecl{
    .kind = ComponentKind::transform,
    .type = "rate_limit",
    .summary = "Token bucket per key; events over the limit are dropped.",
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
  return {};
}

void RateLimitTransform::evict(Clock::time_point now) {
  // Buckets that have refilled completely hold no information: drop those first.
  std::erase_if(buckets_, [&](const auto& kv) {
    const double ms = std::chrono::duration<double, std::milli>(now - kv.second.updated).count();
    return kv.second.tokens + ms * per_ms_ >= capacity_;
  });
  if (buckets_.size() >= max_keys_) buckets_.clear();
}

Verdict RateLimitTransform::admit(const std::string& key, Clock::time_point now) {
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
    return Verdict::keep;
  }
  return Verdict::drop;
}

Result<Verdict> RateLimitTransform::apply(Event& event) {
  std::string key;
  if (key_) key_->render_string(event, key);
  const Verdict v = admit(key, Clock::now());
  if (v == Verdict::drop) {
    ++dropped_;
    if (context_->logger().enabled(LogLevel::debug)) {
      context_->logger().debug("event " + event.id + " over the rate limit for '" + key + "'; dropped");
    }
  }
  return v;
}

}  // namespace switchyard::core
