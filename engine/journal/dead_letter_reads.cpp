// Reads of the dead-letter queue for feeds (Context::dead_letters, the `dlq` source), on a
// thread and connection of their own, and the notice after a commit that recorded an entry.
#include "journal/codec.hpp"
#include "journal/writer.hpp"
#include "log/logging.hpp"

namespace switchyard::journal {

using namespace std::chrono_literals;

void Journal::Impl::tell_dead_letter_watchers() {
  std::vector<std::function<void()>> told;
  {
    std::lock_guard lock(watchers_mutex);
    told.swap(dead_letter_watchers);
  }
  for (auto& recorded : told) recorded();
}

void Journal::Impl::read_on(ReadThread& reads, FeedRead read) {
  {
    std::lock_guard lock(reads.mutex);
    if (reads.stopping) return;  // the engine is closing: nobody is left to tell
    reads.reads.push_back(std::move(read));
    if (!reads.thread.joinable()) reads.thread = std::thread([this, &reads] { run_reads(reads); });
  }
  reads.wake.notify_one();
}

void Journal::Impl::run_reads(ReadThread& reads) {
  std::optional<sql::Db> connection;
  for (;;) {
    FeedRead read;
    {
      std::unique_lock lock(reads.mutex);
      reads.wake.wait(lock, [&] { return reads.stopping || !reads.reads.empty(); });
      if (reads.stopping) return;
      read = std::move(reads.reads.front());
      reads.reads.pop_front();
    }
    if (!connection) {
      auto opened = sql::Db::open(file, false);
      if (!opened) {
        read(retryable(std::string("journal: cannot open a reader for ") + reads.what + ": " + opened.error().message));
        continue;
      }
      connection.emplace(std::move(*opened));
    }
    read(&*connection);
  }
}

void Journal::Impl::stop_reads(ReadThread& reads) {
  {
    std::lock_guard lock(reads.mutex);
    reads.stopping = true;
    reads.reads.clear();
  }
  reads.wake.notify_one();
  if (reads.thread.joinable()) reads.thread.join();
}

void Journal::read_dead_letters(std::int64_t after, std::size_t limit,
                                std::function<void(Result<std::vector<DeadLetter>>)> done) {
  impl_->feed_read([after, limit, done = std::move(done)](Result<sql::Db*> db) {
    if (!db) return done(db.error());
    auto stmt = (*db)->prepare(
        "SELECT id, pipeline, sink, event_id, type, attempts, error, failed_at, body FROM dlq "
        "WHERE id > ? AND replay = 0 ORDER BY id LIMIT ?");
    if (!stmt) return done(retryable("journal read: " + stmt.error().message));
    stmt->bind(1, after).bind(2, static_cast<std::int64_t>(limit));
    std::vector<DeadLetter> out;
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      DeadLetter& d = out.emplace_back();
      d.id = stmt->integer(0);
      d.pipeline = stmt->text(1);
      d.sink = stmt->text(2);
      d.event_id = stmt->text(3);
      d.type = stmt->text(4);
      d.attempts = static_cast<std::uint32_t>(stmt->integer(5));
      d.error = stmt->text(6);
      d.failed_at_ms = stmt->integer(7);
      d.body = stmt->blob(8);
    }
    if (rc != SQLITE_DONE) return done(retryable("journal read: " + (*db)->error()));
    done(std::move(out));
  });
}

void Journal::newest_dead_letter(std::function<void(Result<std::int64_t>)> done) {
  impl_->feed_read([done = std::move(done)](Result<sql::Db*> db) {
    if (!db) return done(db.error());
    // The AUTOINCREMENT counter, not max(id): it also counts entries dropped since.
    auto newest = (*db)->scalar(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'dlq'), 0), "
        "coalesce((SELECT max(id) FROM dlq), 0))");
    if (!newest) return done(retryable("journal read: " + newest.error().message));
    done(*newest);
  });
}

void Journal::when_dead_lettered(std::function<void()> recorded) {
  std::lock_guard lock(impl_->watchers_mutex);
  impl_->dead_letter_watchers.push_back(std::move(recorded));
}

}  // namespace switchyard::journal
