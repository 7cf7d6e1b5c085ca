#include "runtime/dead_letter_feed.hpp"

#include <utility>

#include "journal/codec.hpp"

namespace switchyard::runtime {

JournalDeadLetterFeed::JournalDeadLetterFeed(journal::Journal& journal, const Strand& strand, TaskFailure failure)
    : journal_(journal), shared_(std::make_shared<Shared>(strand, std::move(failure))) {}

JournalDeadLetterFeed::~JournalDeadLetterFeed() { close(); }

void JournalDeadLetterFeed::close() { shared_->executor.close(); }

DeadLetterEntry JournalDeadLetterFeed::entry_of(journal::DeadLetter&& stored) {
  DeadLetterEntry entry;
  entry.id = stored.id;
  entry.pipeline = std::move(stored.pipeline);
  entry.component = std::move(stored.sink);
  entry.error = std::move(stored.error);
  entry.attempts = stored.attempts;
  entry.failed_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(stored.failed_at_ms));
  if (auto event = journal::decode_event(stored.body)) entry.event = std::move(*event);
  return entry;
}

void JournalDeadLetterFeed::read(std::int64_t after, std::size_t limit,
                                 std::function<void(Result<DeadLetterEntries>)> done) {
  std::weak_ptr<Shared> weak = shared_;
  journal_.read_dead_letters(after, limit, [weak, done = std::move(done)](Result<std::vector<journal::DeadLetter>> rows) {
    auto shared = weak.lock();
    if (!shared) return;
    // Decoded here, on the journal's reader thread, not on the component's strand.
    auto result = std::make_shared<Result<DeadLetterEntries>>(DeadLetterEntries{});
    if (!rows) {
      *result = rows.error();
    } else {
      auto& entries = **result;
      entries.reserve(rows->size());
      for (auto& row : *rows) entries.push_back(entry_of(std::move(row)));
    }
    shared->executor.post([done, result] { done(std::move(*result)); });
  });
}

void JournalDeadLetterFeed::newest(std::function<void(Result<std::int64_t>)> done) {
  std::weak_ptr<Shared> weak = shared_;
  journal_.newest_dead_letter([weak, done = std::move(done)](Result<std::int64_t> id) {
    if (auto shared = weak.lock()) shared->executor.post([done, id] { done(id); });
  });
}

void JournalDeadLetterFeed::when_recorded(std::function<void()> recorded) {
  shared_->recorded = std::move(recorded);  // a new call replaces a pending one
  if (shared_->watching) return;
  shared_->watching = true;
  std::weak_ptr<Shared> weak = shared_;
  journal_.when_dead_lettered([weak] {
    auto shared = weak.lock();
    if (!shared) return;
    shared->executor.post([weak] {
      auto s = weak.lock();
      if (!s) return;
      s->watching = false;
      if (auto recorded = std::exchange(s->recorded, nullptr)) recorded();
    });
  });
}

}  // namespace switchyard::runtime
