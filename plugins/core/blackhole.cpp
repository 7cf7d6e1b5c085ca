#include "blackhole.hpp"

#include <cstdio>

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "print_interval", .type = OptionType::duration, .default_value = "0s",
     .description = "Log the count and rate at this interval; 0 logs only the total at stop."},
};

}  // namespace

const ComponentDecl kBlackholeDecl{
    .kind = ComponentKind::sink,
    .type = "blackhole",
    .summary = "Accepts and counts events without doing anything with them (benchmarks, drafts).",
    .options = kOptions,
    .create = &make_component<BlackholeSink>,
};

Status BlackholeSink::configure(const Options& options, Context& context) {
  context_ = &context;
  print_interval_ = options.duration("print_interval");
  return {};
}

Status BlackholeSink::start() {
  since_ = std::chrono::steady_clock::now();
  if (print_interval_.count() > 0) {
    timer_ = context_->executor().make_timer();
    timer_->expires_after(print_interval_, [this] { report(); });
  }
  return {};
}

void BlackholeSink::deliver(EventPtr, DeliveryCallback done) {
  ++count_;
  done({});
}

void BlackholeSink::report() {
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - since_).count();
  char line[128];
  std::snprintf(line, sizeof line, "%llu events (%.0f/s)", static_cast<unsigned long long>(count_),
                seconds > 0 ? static_cast<double>(count_ - reported_) / seconds : 0.0);
  context_->logger().info(line);
  reported_ = count_;
  since_ = now;
  timer_->expires_after(print_interval_, [this] { report(); });
}

void BlackholeSink::drain(std::function<void()> done) {
  if (timer_) timer_->cancel();
  done();
}

void BlackholeSink::stop() {
  timer_.reset();
  context_->logger().info(std::to_string(count_) + " events received in all");
}

}  // namespace switchyard::core
