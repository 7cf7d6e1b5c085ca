#include "metrics/registry.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <mutex>
#include <sstream>
#include <variant>

#include "log/logging.hpp"

namespace switchyard::metrics {
namespace {

class CounterImpl final : public Counter {
 public:
  explicit CounterImpl(prometheus::Counter* c) : c_(c) {}
  void inc(double by) override {
    if (c_ && by >= 0) c_->Increment(by);
  }

 private:
  prometheus::Counter* c_;
};

class GaugeImpl final : public Gauge {
 public:
  explicit GaugeImpl(prometheus::Gauge* g) : g_(g) {}
  void set(double v) override {
    if (g_) g_->Set(v);
  }
  void inc(double by) override {
    if (g_) g_->Increment(by);
  }
  void dec(double by) override {
    if (g_) g_->Decrement(by);
  }

 private:
  prometheus::Gauge* g_;
};

class HistogramImpl final : public Histogram {
 public:
  explicit HistogramImpl(prometheus::Histogram* h) : h_(h) {}
  void observe(double v) override {
    if (h_) h_->Observe(v);
  }

 private:
  prometheus::Histogram* h_;
};

using AnyFamily = std::variant<prometheus::Family<prometheus::Counter>*, prometheus::Family<prometheus::Gauge>*,
                               prometheus::Family<prometheus::Histogram>*>;

// One handle per (type, name, labels): asking twice gives the same series.
std::string key_of(char type, std::string_view name, const MetricLabels& labels) {
  std::string key(1, type);
  key += name;
  for (const auto& [k, v] : labels) {
    key += '\x1f';
    key += k;
    key += '=';
    key += v;
  }
  return key;
}

prometheus::Labels labels_of(const MetricLabels& labels) {
  prometheus::Labels out;
  for (const auto& [k, v] : labels) out.emplace(k, v);
  return out;
}

// A component's metrics: its pipeline and component labels go first.
class ScopedMetrics final : public Metrics {
 public:
  ScopedMetrics(Registry& registry, std::string pipeline, std::string component)
      : registry_(registry), base_{{"pipeline", std::move(pipeline)}, {"component", std::move(component)}} {}
  Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels) override {
    return registry_.counter(name, help, with(labels));
  }
  Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels) override {
    return registry_.gauge(name, help, with(labels));
  }
  Histogram& histogram(std::string_view name, std::string_view help, std::span<const double> buckets,
                       const MetricLabels& labels) override {
    return registry_.histogram(name, help, buckets, with(labels));
  }

 private:
  MetricLabels with(const MetricLabels& labels) const {
    MetricLabels all = base_;
    for (const auto& l : labels) {
      if (l.first != "pipeline" && l.first != "component") all.push_back(l);
    }
    return all;
  }
  Registry& registry_;
  MetricLabels base_;
};

}  // namespace

struct Registry::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::mutex mutex;
  struct FamilyEntry {
    AnyFamily family;
    std::string help;
  };
  std::map<std::string, FamilyEntry, std::less<>> families;
  std::map<std::string, std::unique_ptr<Counter>> counters;
  std::map<std::string, std::unique_ptr<Gauge>> gauges;
  std::map<std::string, std::unique_ptr<Histogram>> histograms;
  std::function<void()> collect;

  // The family `name` of type F, created on first use (its help text is the first one
  // given); nullptr when the name is taken by another type.
  template <class F, class Build>
  F* family(std::string_view name, std::string_view help, Build build) {
    auto it = families.find(name);
    if (it == families.end()) {
      F* f = &build().Name(std::string(name)).Help(std::string(help)).Register(*registry);
      families.emplace(std::string(name), FamilyEntry{f, std::string(help)});
      return f;
    }
    F* const* f = std::get_if<F*>(&it->second.family);
    if (!f) {
      log::engine().error("metric {} is used with two different types; the second is not exported", name);
      return nullptr;
    }
    return *f;
  }
};

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

Counter& Registry::counter(std::string_view name, std::string_view help, const MetricLabels& labels) {
  std::lock_guard lock(impl_->mutex);
  auto& slot = impl_->counters[key_of('c', name, labels)];
  if (!slot) {
    auto* f = impl_->family<prometheus::Family<prometheus::Counter>>(name, help, [] { return prometheus::BuildCounter(); });
    slot = std::make_unique<CounterImpl>(f ? &f->Add(labels_of(labels)) : nullptr);
  }
  return *slot;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const MetricLabels& labels) {
  std::lock_guard lock(impl_->mutex);
  auto& slot = impl_->gauges[key_of('g', name, labels)];
  if (!slot) {
    auto* f = impl_->family<prometheus::Family<prometheus::Gauge>>(name, help, [] { return prometheus::BuildGauge(); });
    slot = std::make_unique<GaugeImpl>(f ? &f->Add(labels_of(labels)) : nullptr);
  }
  return *slot;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, std::span<const double> buckets,
                               const MetricLabels& labels) {
  std::lock_guard lock(impl_->mutex);
  auto& slot = impl_->histograms[key_of('h', name, labels)];
  if (!slot) {
    auto* f = impl_->family<prometheus::Family<prometheus::Histogram>>(name, help,
                                                                      [] { return prometheus::BuildHistogram(); });
    prometheus::Histogram::BucketBoundaries bounds(buckets.begin(), buckets.end());
    slot = std::make_unique<HistogramImpl>(f ? &f->Add(labels_of(labels), bounds) : nullptr);
  }
  return *slot;
}

std::unique_ptr<Metrics> Registry::scoped(std::string pipeline, std::string component) {
  return std::make_unique<ScopedMetrics>(*this, std::move(pipeline), std::move(component));
}

void Registry::set_collector(std::function<void()> collect) {
  std::lock_guard lock(impl_->mutex);
  impl_->collect = std::move(collect);
}

std::string Registry::serialize() {
  std::function<void()> collect;
  {
    std::lock_guard lock(impl_->mutex);
    collect = impl_->collect;
  }
  if (collect) collect();
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, impl_->registry->Collect());
  return out.str();
}

Registry& unscraped() {
  static Registry registry;
  return registry;
}

}  // namespace switchyard::metrics
