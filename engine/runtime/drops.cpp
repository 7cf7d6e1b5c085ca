#include "runtime/drops.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <map>

#include "switchyard/event.hpp"

namespace switchyard::runtime {

std::atomic<std::uint64_t>& DropBook::slot(const std::string& component, const std::string& reason) {
  std::lock_guard lock(mutex_);
  for (auto& s : slots_) {
    if (s->component == component && s->reason == reason) return s->count;
  }
  slots_.push_back(std::make_unique<Slot>());
  slots_.back()->component = component;
  slots_.back()->reason = reason;
  return slots_.back()->count;
}

std::vector<DropBook::Count> DropBook::counts() const {
  std::lock_guard lock(mutex_);
  std::vector<Count> out;
  out.reserve(slots_.size());
  for (const auto& s : slots_) out.push_back({s->component, s->reason, s->count.load(std::memory_order_relaxed)});
  return out;
}

std::uint64_t DropBook::total(const std::string& reason) const {
  std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  for (const auto& s : slots_) {
    if (s->reason == reason) n += s->count.load(std::memory_order_relaxed);
  }
  return n;
}

void DropBook::refused(std::string why) {
  std::string line = format_rfc3339(std::chrono::system_clock::now()) + " " + std::move(why);
  std::lock_guard lock(mutex_);
  last_refusal_ = std::move(line);
}

std::string DropBook::last_refusal() const {
  std::lock_guard lock(mutex_);
  return last_refusal_;
}

std::string answer_reason(const std::string& body) {
  constexpr std::size_t kMax = 200;
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto it = doc.FindMember("error");
    if (it != doc.MemberEnd() && it->value.IsString()) return std::string(it->value.GetString()).substr(0, kMax);
  }
  return body.substr(0, kMax);
}

namespace {

// Counts in the metric and in the book with one inc().
class TeeCounter final : public Counter {
 public:
  TeeCounter(Counter& metric, Counter* also, std::atomic<std::uint64_t>& slot)
      : metric_(metric), also_(also), slot_(slot) {}
  void inc(double by) override {
    metric_.inc(by);
    if (also_) also_->inc(by);
    if (by > 0) slot_.fetch_add(static_cast<std::uint64_t>(by), std::memory_order_relaxed);
  }

 private:
  Counter& metric_;
  Counter* also_;
  std::atomic<std::uint64_t>& slot_;
};

class DropCountingMetrics final : public Metrics {
 public:
  DropCountingMetrics(std::unique_ptr<Metrics> inner, std::shared_ptr<DropBook> book, std::string component)
      : inner_(std::move(inner)), book_(std::move(book)), component_(std::move(component)) {}

  Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels) override {
    Counter& metric = inner_->counter(name, help, labels);
    std::string reason;
    Counter* also = nullptr;
    if (name == kDroppedMetric) {
      for (const auto& [k, v] : labels) {
        if (k == "reason") reason = v;
      }
      if (reason.empty() || labels.size() != 1) return metric;
    } else if (name == metrics::names::kSignatureFailures && labels.empty()) {
      reason = "signature";
      also = &inner_->counter(kDroppedMetric, kDroppedHelp, {{"reason", reason}});
    } else {
      return metric;
    }
    // Handles are asked for once per component, but the same one twice must not count twice
    // in the book: one tee per (name, reason).
    std::lock_guard lock(mutex_);
    auto& tee = tees_[{std::string(name), reason}];
    if (!tee) tee = std::make_unique<TeeCounter>(metric, also, book_->slot(component_, reason));
    return *tee;
  }
  Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels) override {
    return inner_->gauge(name, help, labels);
  }
  Histogram& histogram(std::string_view name, std::string_view help, std::span<const double> buckets,
                       const MetricLabels& labels) override {
    return inner_->histogram(name, help, buckets, labels);
  }

 private:
  std::unique_ptr<Metrics> inner_;
  std::shared_ptr<DropBook> book_;
  std::string component_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<TeeCounter>> tees_;
};

}  // namespace

std::unique_ptr<Metrics> count_drops(std::unique_ptr<Metrics> inner, std::shared_ptr<DropBook> book,
                                     std::string component) {
  if (!book) return inner;
  return std::make_unique<DropCountingMetrics>(std::move(inner), std::move(book), std::move(component));
}

}  // namespace switchyard::runtime
