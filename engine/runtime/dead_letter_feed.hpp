#pragma once
// Internal: the DeadLetterFeed a component's context gives it (Context::dead_letters()),
// over the journal's dead-letter queue. Reads run on the journal's reader thread; their
// results, and the news of an entry recorded, come back on the component's strand, and
// never once its context is closed (after stop()).

#include <memory>

#include "journal/journal.hpp"
#include "runtime/io.hpp"
#include "switchyard/context.hpp"

namespace switchyard::runtime {

class JournalDeadLetterFeed final : public DeadLetterFeed {
 public:
  JournalDeadLetterFeed(journal::Journal& journal, const Strand& strand, TaskFailure failure);
  ~JournalDeadLetterFeed() override;
  JournalDeadLetterFeed(const JournalDeadLetterFeed&) = delete;
  JournalDeadLetterFeed& operator=(const JournalDeadLetterFeed&) = delete;

  void read(std::int64_t after, std::size_t limit, std::function<void(Result<DeadLetterEntries>)> done) override;
  void newest(std::function<void(Result<std::int64_t>)> done) override;
  void when_recorded(std::function<void()> recorded) override;
  /// No callback runs from now on (the component has stopped).
  void close();

  /// The SDK's form of a journal entry: its stored event decoded (null when it cannot be).
  static DeadLetterEntry entry_of(journal::DeadLetter&& stored);

 private:
  // What the journal's threads reach through a weak_ptr: once the feed is gone they find
  // nothing, and once it is closed the executor drops what they post.
  struct Shared {
    explicit Shared(const Strand& strand, TaskFailure failure) : executor(strand, std::move(failure)) {}
    StrandExecutor executor;
    std::function<void()> recorded;  // strand: the pending when_recorded() callback
    bool watching = false;           // strand: a journal notification is asked for
  };

  journal::Journal& journal_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace switchyard::runtime
