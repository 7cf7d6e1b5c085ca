#pragma once
// `blackhole` sink: accepts and counts events, nothing more. For benchmarks and for
// pipelines under construction.

#include <chrono>
#include <cstdint>
#include <memory>

#include "switchyard/component.hpp"
#include "switchyard/context.hpp"

namespace switchyard::core {

extern const ComponentDecl kBlackholeDecl;

class BlackholeSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  void drain(std::function<void()> done) override;
  void stop() override;
  bool reads_payload() const override { return false; }  ///< it only counts

 private:
  void report();

  Context* context_ = nullptr;
  std::chrono::milliseconds print_interval_{0};
  std::unique_ptr<Timer> timer_;
  std::uint64_t count_ = 0;
  std::uint64_t reported_ = 0;
  std::chrono::steady_clock::time_point since_;
};

}  // namespace switchyard::core
