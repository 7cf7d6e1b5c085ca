#pragma once
// `generate` source: emits a configured JSON event every `interval`, or `count` events as
// fast as the pipeline accepts them (interval 0) — for demos, tests and benchmarks.

#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kGenerateDecl;

class GenerateSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void drain(std::function<void()> done) override;
  void stop() override;

  /// Events emitted so far.
  std::uint64_t emitted() const { return emitted_; }

 private:
  std::unique_ptr<Event> make_event();
  void tick();   // interval mode: one event per timer
  void burst();  // interval 0: as fast as the pipeline accepts
  bool done_emitting() const { return count_ > 0 && emitted_ >= count_; }

  Context* context_ = nullptr;
  rapidjson::Document payload_;
  std::string type_;
  std::string source_;
  std::string subject_;
  std::chrono::milliseconds interval_{0};
  std::uint64_t count_ = 0;
  std::uint64_t emitted_ = 0;
  bool running_ = false;
  std::unique_ptr<Timer> timer_;
};

}  // namespace switchyard::core
