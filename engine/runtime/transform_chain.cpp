#include "runtime/transform_chain.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "runtime/state_store.hpp"

namespace switchyard::runtime {

TransformChain::TransformChain(PipelineHooks& hooks, std::vector<ComponentHost>& stages, Strand strand,
                               bool capture_state, Output output)
    : hooks_(hooks),
      stages_(stages),
      strand_(std::move(strand)),
      capture_state_(capture_state),
      has_async_(std::any_of(stages.begin(), stages.end(), [](const ComponentHost& s) { return s.asynchronous(); })),
      output_(std::move(output)) {}

bool TransformChain::judge(const ComponentHost& stage, Event& event, const Result<Verdict>& verdict) {
  if (!verdict) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    hooks_.logger().warn("{}: event {} failed: {}", stage.label(), event.id, verdict.error().message);
    hooks_.note_error(stage.label() + ": " + verdict.error().message);
    return false;
  }
  if (*verdict == Verdict::drop) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void TransformChain::run(Incoming incoming) {
  if (!has_async_) {
    // Everything inline: the event leaves before the next one enters.
    Finished f{std::move(incoming), true, {}};
    {
      std::optional<StateWriteCapture> capture;
      if (capture_state_) capture.emplace(f.writes);
      for (auto& stage : stages_) {
        if (!judge(stage, *f.incoming.event, stage.apply(*f.incoming.event))) {
          f.kept = false;
          break;
        }
      }
    }
    return output_(std::move(f));
  }
  const std::uint64_t ticket = next_ticket_++;
  items_.emplace(ticket, Item{Finished{std::move(incoming), true, {}}, 0, false});
  advance(ticket);
  release();
}

void TransformChain::advance(std::uint64_t ticket) {
  Item& item = items_.at(ticket);
  Event& event = *item.finished.incoming.event;
  std::optional<StateWriteCapture> capture;
  if (capture_state_) capture.emplace(item.finished.writes);
  while (item.next < stages_.size()) {
    ComponentHost& stage = stages_[item.next];
    if (!stage.asynchronous()) {
      if (!judge(stage, event, stage.apply(event))) {
        item.finished.kept = false;
        item.done = true;
        return;
      }
      ++item.next;
      continue;
    }
    // The decision may come inline or from any thread, at most once: a repeat is ignored.
    auto once = std::make_shared<std::atomic<bool>>(false);
    stage.process(event, [this, ticket, once, alive = hooks_.keep_alive()](Result<Verdict> verdict) mutable {
      if (once->exchange(true)) return;
      if (strand_.running_in_this_thread()) {
        // Inline, or from the transform's own callbacks (they run on this strand too):
        // events that were waiting for this one may leave now.
        decided(ticket, std::move(verdict));
        return release();
      }
      asio::post(strand_, [this, ticket, alive = std::move(alive), verdict = std::move(verdict)]() mutable {
        decided(ticket, std::move(verdict));
        release();
      });
    });
    return;  // inline decisions continued through decided()
  }
  item.done = true;
}

void TransformChain::decided(std::uint64_t ticket, Result<Verdict> verdict) {
  if (stopped_) return;
  auto it = items_.find(ticket);
  if (it == items_.end()) return;
  Item& item = it->second;
  if (!judge(stages_[item.next], *item.finished.incoming.event, verdict)) {
    item.finished.kept = false;
    item.done = true;
    return;
  }
  ++item.next;
  advance(ticket);
}

void TransformChain::release() {
  while (!stopped_ && !items_.empty() && items_.begin()->second.done) {
    Finished f = std::move(items_.begin()->second.finished);
    items_.erase(items_.begin());
    output_(std::move(f));
  }
}

}  // namespace switchyard::runtime
