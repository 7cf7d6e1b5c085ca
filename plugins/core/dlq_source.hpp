#pragma once
// `dlq` source: the engine's dead-letter queue as events, one per entry, so that a failure
// can alert (Slack, e-mail, a ticket) like any other event. It follows the queue in the
// order entries are recorded and keeps its place in its state store: after a restart it
// goes on where it was, and an entry whose event was emitted but whose place was not yet
// saved is emitted again (at least once; the event id `dlq-<entry id>` stays the same, so
// `dedup` on event.id makes it once).

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <string>
#include <vector>

#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kDlqDecl;

class DlqSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void drain(std::function<void()> done) override;
  void stop() override;

  /// The state-store key of the id of the last entry handled (emitted or skipped).
  static constexpr const char* kCursorKey = "cursor";
  /// The event for one entry: id dlq-<entry id>, type switchyard.dead_letter.
  static std::unique_ptr<Event> make_event(const DeadLetterEntry& entry);
  /// Whether `name` matches `pattern`, where `*` is any run of characters and `?` one.
  static bool glob_match(std::string_view pattern, std::string_view name);

  /// Events the pipeline accepted so far.
  std::uint64_t emitted() const { return emitted_; }
  /// The id of the last entry handled.
  std::int64_t cursor() const { return cursor_; }

 private:
  bool wanted(const DeadLetterEntry& entry) const;
  void start_from_newest();
  void begin(std::int64_t cursor);
  void read_more();
  void on_read(Result<DeadLetterEntries> entries);
  void emit_next();
  void on_emitted(std::int64_t id, Status status);
  void batch_done();
  void save_cursor();
  void retry_later(const Error& error, const char* what, void (DlqSource::*again)());
  void recovered();
  // `fn` on this source, unless it has stopped (a posted callback can outlive it).
  std::function<void()> guarded(void (DlqSource::*fn)());

  Context* context_ = nullptr;
  std::vector<std::string> pipelines_;   // patterns; empty: all
  std::vector<std::string> components_;  // patterns; empty: all
  bool from_all_ = false;
  std::size_t batch_ = 100;

  std::int64_t cursor_ = 0;        // last entry handled
  std::int64_t saved_cursor_ = -1;  // last cursor written to the state store (-1: none)
  DeadLetterEntries entries_;      // the batch being emitted
  std::size_t next_ = 0;
  bool running_ = false;
  bool reading_ = false;   // a read or its batch is in progress
  bool recorded_ = false;  // an entry was recorded since the current read was asked for
  bool draining_ = false;
  bool emitting_ = false;  // an emit's callback is awaited
  std::function<void()> drained_;
  int failures_ = 0;  // consecutive failed reads or emits
  std::unique_ptr<Timer> timer_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  std::uint64_t emitted_ = 0;
};

}  // namespace switchyard::core
