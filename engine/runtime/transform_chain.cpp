#include "runtime/transform_chain.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "runtime/drops.hpp"
#include "runtime/state_store.hpp"

namespace switchyard::runtime {

TransformChain::TransformChain(PipelineHooks& hooks, std::vector<ComponentHost>& stages, Strand strand,
                               bool capture_state, bool keep_originals, Output output)
    : hooks_(hooks),
      stages_(stages),
      strand_(std::move(strand)),
      capture_state_(capture_state),
      has_async_(std::any_of(stages.begin(), stages.end(), [](const ComponentHost& s) { return s.asynchronous(); })),
      keep_originals_(keep_originals && !stages.empty()),
      output_(std::move(output)) {
  for (auto& stage : stages_) {
    auto& metrics = stage.context().metrics();
    counters_.push_back({&metrics.counter(kDroppedMetric, kDroppedHelp, {{"reason", drop_reason(stage.config().type)}}),
                         &metrics.counter(kDroppedMetric, kDroppedHelp, {{"reason", "transform_error"}})});
  }
}

// What a transform's "drop" means, by its type: the reason label of its drops.
std::string TransformChain::drop_reason(std::string_view type) {
  if (type == "filter") return "filtered";
  if (type == "dedup") return "deduplicated";
  if (type == "rate_limit") return "rate_limited";
  return "dropped";
}

bool TransformChain::judge(const ComponentHost& stage, Finished& f, const Result<Verdict>& verdict) {
  const auto& counters = counters_[static_cast<std::size_t>(&stage - stages_.data())];
  if (!verdict) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    counters.failed->inc();
    hooks_.note_error(stage.label() + ": " + verdict.error().message);
    f.failed_at = stage.label();
    f.error = verdict.error().message;
    return false;
  }
  if (*verdict == Verdict::drop) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    counters.dropped->inc();
    f.dropped_by = stage.label();
    f.drop_reason = drop_reason(stage.config().type);
    return false;
  }
  return true;
}

namespace {

// The source's callback shared by the `n` events split from one: it runs once all of them
// have been answered, with the first error among them.
EmitCallback shared_callback(EmitCallback done, std::size_t n) {
  if (!done || n == 1) return done;
  struct Wait {
    std::mutex mutex;
    std::size_t left;
    Status status;
    EmitCallback done;
  };
  auto wait = std::make_shared<Wait>();
  wait->left = n;
  wait->done = std::move(done);
  return [wait](Status status) {
    EmitCallback call;
    {
      std::lock_guard lock(wait->mutex);
      if (!status && wait->status) wait->status = std::move(status);
      if (--wait->left > 0) return;
      call = std::move(wait->done);
    }
    call(std::move(wait->status));
  };
}

}  // namespace

std::vector<TransformChain::Finished> TransformChain::split(ComponentHost& stage, Finished& f) {
  Event& parent = *f.incoming.event;
  Result<Events> events = permanent("not split");
  {
    std::optional<StateWriteCapture> capture;
    if (capture_state_) capture.emplace(f.writes);
    events = stage.split(parent);
  }
  std::vector<Finished> out;
  if (!events) {
    judge(stage, f, events.error());
    f.kept = false;
    return out;
  }
  Events& made = *events;
  std::erase(made, nullptr);
  if (made.empty()) {
    judge(stage, f, Verdict::drop);
    f.kept = false;
    return out;
  }
  derived_.fetch_add(made.size(), std::memory_order_relaxed);
  EmitCallback done = shared_callback(std::move(f.incoming.done), made.size());
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < made.size(); ++i) {
    Event& event = *made[i];
    // What the ingress gives an emitted event, from the parent.
    if (event.id.empty()) event.id = parent.id + "-" + std::to_string(i);
    if (event.time == std::chrono::system_clock::time_point{}) event.time = parent.time;
    event.pipeline = parent.pipeline;
    const std::size_t size = event.memory_size();
    bytes += size;
    out.push_back(Finished{Incoming{std::move(made[i]), done, f.incoming.until_done, size, f.incoming.replaces},
                           true, {}, {}, {}, {}, {}, f.original});
  }
  out.front().writes = std::move(f.writes);
  hooks_.replaced(f.incoming.bytes, out.size(), bytes);
  return out;
}

void TransformChain::run(Incoming incoming) {
  Finished f{std::move(incoming), true, {}, {}, {}, {}, {}, nullptr};
  if (f.incoming.source_state) {
    // Written with the event (or, dropped or dead-lettered, with its outcome): remembered
    // exactly when the pipeline keeps what it accepted.
    std::optional<StateWriteCapture> capture;
    if (capture_state_) capture.emplace(f.writes);
    for (auto& r : f.incoming.event->take_remembered()) (void)f.incoming.source_state->remember(r.key, r.ttl);
  }
  if (keep_originals_) f.original = f.incoming.event->clone();
  if (!has_async_) return run_inline(std::move(f), 0);
  Ticket ticket{next_ticket_++};
  items_.emplace(ticket, Item{std::move(f), 0, false});
  advance(ticket);
  release();
}

void TransformChain::run_inline(Finished f, std::size_t from) {
  // The event leaves before the next one enters.
  for (std::size_t i = from; i < stages_.size(); ++i) {
    ComponentHost& stage = stages_[i];
    if (stage.splitting()) {
      std::vector<Finished> derived = split(stage, f);
      if (derived.empty()) break;
      for (auto& d : derived) run_inline(std::move(d), i + 1);
      return;
    }
    Result<Verdict> verdict = Verdict::keep;
    {
      std::optional<StateWriteCapture> capture;
      if (capture_state_) capture.emplace(f.writes);
      verdict = stage.apply(*f.incoming.event);
    }
    if (!judge(stage, f, verdict)) {
      f.kept = false;
      break;
    }
  }
  output_(std::move(f));
}

void TransformChain::advance(const Ticket& ticket) {
  Item& item = items_.at(ticket);
  Event& event = *item.finished.incoming.event;
  while (item.next < stages_.size()) {
    ComponentHost& stage = stages_[item.next];
    if (stage.splitting()) {
      std::vector<Finished> derived = split(stage, item.finished);
      if (derived.empty()) {
        item.done = true;
        return;
      }
      // The parent's place goes to its events, each advanced on its own.
      const std::size_t next = item.next + 1;
      std::vector<Ticket> tickets;
      for (std::size_t i = 0; i < derived.size(); ++i) {
        Ticket t = ticket;
        t.push_back(i);
        tickets.push_back(t);
      }
      items_.erase(Ticket(ticket));  // `ticket` may be a key's copy only: erase by value
      for (std::size_t i = 0; i < derived.size(); ++i) {
        items_.emplace(tickets[i], Item{std::move(derived[i]), next, false});
      }
      for (const auto& t : tickets) {
        if (items_.contains(t)) advance(t);
      }
      return;
    }
    std::optional<StateWriteCapture> capture;
    if (capture_state_) capture.emplace(item.finished.writes);
    if (!stage.asynchronous()) {
      if (!judge(stage, item.finished, stage.apply(event))) {
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

void TransformChain::decided(const Ticket& ticket, Result<Verdict> verdict) {
  if (stopped_) return;
  auto it = items_.find(ticket);
  if (it == items_.end()) return;
  Item& item = it->second;
  if (!judge(stages_[item.next], item.finished, verdict)) {
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
