#pragma once
// The event log: the stored form (codec.hpp) of every durable event, written once, appended
// to segment files `state.dir/events/<number>.log`. The journal's events table keeps a row
// per event with the record's location here (a few bytes), so SQLite no longer carries
// payloads through its WAL and back into its pages, and deletes no payload pages. A segment
// is deleted whole once no row refers to anything in it.
//
// A record is a 40-byte header, the body, then the state writes made with the event
// (codec.hpp). The header, little-endian: body size (u32), CRC-32C (u32) of the rest of the
// header, the body and the state writes, started from the log's key (below; 0 for records
// naming no segment), sequence number (u64), pipeline id (i64), sinks mask
// (u64), state writes' size (u32), the number of the segment it was written to (u32; zero
// in logs of versions before it, read only in segments they began). The writer thread appends a batch with one pwritev
// and one fdatasync before the transaction that refers to it commits, so the log is what
// makes an event durable: journal.db commits without a sync of its own, and open() redoes
// from the log whatever journal.db lost (replay_after()). A segment is synced before the
// next one is started, so a torn record can only be at the end of the last segment: open()
// cuts it off. A record that does not check anywhere else is damage: open() refuses,
// naming the file and the byte, and nothing is deleted.
//
// Segments are used again: a released one is kept as a spare (`<number>.spare`, at most
// kSpares) and renamed to be the next segment. Writing over blocks a file already has
// costs an fdatasync half the time and CPU of extending the file (no file system journal
// commit for new blocks). Three things follow. A spare still holds its earlier records past
// what is written now: their segment number (and sequence number) tell them apart, and a
// finished segment is cut to what it holds before the next one starts. Those bytes may be
// an old payload, which anyone could have shaped like a record of this very segment: the
// CRC starts from the log's key, a random number in `events/key` ("<key> <first segment
// keyed>", made when the log is first opened; segments before that were written with 0),
// so bytes written without it are no record. And an unfinished
// batch written over old blocks may reach the disk in any order, leaving a record that
// does not check with good ones of the same batch after it: open() cuts that off too when
// journal.db knows of nothing at or after it (Options::committed); otherwise it is damage.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/result.hpp"

namespace switchyard::journal {

namespace sql {
class Db;
}

class EventLog {
 public:
  struct Committed {
    std::uint64_t referenced_end = 0;  ///< one past the newest location a row refers to (0: none)
    std::uint64_t seq = 0;             ///< the highest sequence number it committed
  };
  struct Options {
    std::filesystem::path dir;  ///< state.dir/events
    bool fsync = true;          ///< fdatasync every batch (as state.fsync)
    std::uint64_t segment_bytes = std::uint64_t{8} << 20;
    /// What journal.db holds. In the last segment, a record that does not check with good
    /// records after it is the batch being written when the engine stopped (cut off) when
    /// journal.db knows nothing at or after it, and damage (refused) otherwise. nullopt:
    /// always damage.
    std::optional<Committed> committed;
  };
  static constexpr std::size_t kSpares = 4;
  static constexpr std::size_t kHeaderBytes = 40;

  /// A record as replay_after() gives it.
  struct Record {
    std::uint64_t seq = 0;
    std::int64_t pipeline = 0;
    std::uint64_t mask = 0;
    std::uint64_t location = 0;
    std::string_view body;
    std::string_view writes;  ///< encode_state_writes() form
  };

  /// Opens the log in `options.dir` (created when absent), checking every record and
  /// cutting a torn end off the last segment; a damaged record elsewhere is an error that
  /// names the file and the byte.
  static Result<std::unique_ptr<EventLog>> open(const Options& options);
  /// The log of a journal another process may be writing, for reading records only.
  static std::unique_ptr<EventLog> reader(std::filesystem::path dir);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // --- the journal's writer thread ---
  /// Queues a record whose body is `body` followed by `body_rest`; returns its location.
  /// Both must stay alive until sync() or discard(). Starting a new segment writes and
  /// syncs what is queued first: an error then.
  Result<std::uint64_t> add(std::uint64_t seq, std::int64_t pipeline, std::uint64_t mask, std::string_view body,
                            std::string writes = {}, std::string_view body_rest = {});
  /// Writes what add() queued and makes it durable (fdatasync unless fsync is off). On an
  /// error nothing of it stays: the segment is cut back.
  Status sync();
  /// Forgets what add() queued since the last sync() (its transaction did not commit).
  void discard();
  /// Deleting released segments, for another thread (unlinking and closing a large file
  /// frees its blocks: milliseconds the writer should not spend); returns what failed.
  using Deletion = std::function<std::vector<std::string>()>;
  /// Whether release(oldest, idle) would let a segment go.
  bool releases(std::optional<std::uint64_t> oldest, bool idle) const;
  /// Lets go of the segments before the one holding `oldest`, the location of the oldest
  /// record a row still refers to (nullopt: none; then, when `idle` (nothing added since the
  /// last release), an active segment grown past a few MiB is replaced by a fresh one too).
  /// Reads of them answer "gone" from now on; the files go when the returned Deletion runs
  /// (up to kSpares of them are kept as spares instead, when nobody else holds them).
  [[nodiscard]] Deletion release(std::optional<std::uint64_t> oldest, bool idle);
  /// Bytes from `oldest` (as for release()) to the end of the log.
  std::uint64_t live_bytes(std::optional<std::uint64_t> oldest) const;
  /// Writer thread, between batches: the location the next record goes at or after.
  std::uint64_t end() const;
  /// Empty while the segment being written is still the file this engine opened; else what
  /// happened to it ("events/0000000003.log was deleted").
  std::string check() const;
  /// After check() found segments deleted: writes each back from the descriptor still
  /// open, so the next start finds every body its rows refer to. Says what it did, for the log.
  std::string restore() const;
  /// What open() did that an operator should hear of (for the log), once.
  std::vector<std::string> take_warnings();
  /// Whether the last failed sync() found the disk full.
  bool no_space() const { return no_space_; }
  /// The highest sequence number open() found (0 when empty).
  std::uint64_t last_seq() const { return last_seq_; }
  /// Calls `fn` with every record numbered after `seq`, in order (open, before any add()).
  Status replay_after(std::uint64_t seq, const std::function<Status(const Record&)>& fn) const;

  /// An error when the segment holding `location` is missing (or ends before it): the rows
  /// of journal.db would have no bodies.
  Status expect(std::uint64_t location) const;

  // --- any thread ---
  /// The body of event `seq` stored at `location`; nullopt when its segment is gone (every
  /// sink was done with it); an error when the record is not there or does not check.
  Result<std::optional<std::string>> read(std::uint64_t location, std::uint64_t seq) const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct Segment;
  struct Queued {
    unsigned char header[kHeaderBytes];
    std::string_view body, body_rest;
    std::string writes;
  };
  EventLog(std::filesystem::path dir, bool writer);
  Status read_key();
  Status make_key();
  std::uint32_t key_of(std::uint32_t segment) const { return segment >= keyed_from_ ? key_ : 0; }

  std::filesystem::path path_of(std::uint32_t number) const;
  std::shared_ptr<Segment> segment(std::uint32_t number) const;
  Status recover(std::uint32_t number, bool last, const std::optional<Committed>& committed);
  void keep_spare(std::uint32_t number);
  std::shared_ptr<Segment> take_spare(std::uint32_t number);
  Status start_segment();
  Status write_queued();

  std::filesystem::path dir_;
  bool writer_ = true;
  // Records of segments from keyed_from_ on are checked with key_, earlier ones (written
  // before the log had a key) with 0: `events/key`, made when the log first opens.
  std::uint32_t key_ = 0;
  std::uint32_t keyed_from_ = UINT32_MAX;
  bool fsync_ = true;
  std::uint64_t segment_bytes_ = 0;
  mutable std::mutex mutex_;  // segments_, spares_
  mutable std::map<std::uint32_t, std::shared_ptr<Segment>> segments_;
  std::vector<std::shared_ptr<Segment>> spares_;  // released files to write the next segments to
  // Writer thread only:
  std::uint32_t highest_number_ = 0;  // of every segment and spare seen: the next is after it
  std::shared_ptr<Segment> active_;
  std::uint64_t written_ = 0;  // bytes of the active segment that are durable (or written)
  std::uint64_t queued_bytes_ = 0;
  std::vector<Queued> queued_;
  std::uint64_t last_seq_ = 0;
  bool no_space_ = false;
  std::vector<std::string> warnings_;
};

/// Location of a record: segment number and byte offset.
constexpr std::uint64_t log_location(std::uint32_t segment, std::uint64_t offset) {
  return (std::uint64_t{segment} << 40) | offset;
}

/// Registers `event_body(seq, body, loc)` on `db`: `body` when `loc` is NULL (a row that
/// holds its payload, as journals before version 3 did), else the record read from `log`
/// (NULL when gone). `log` must outlive the connection.
Status register_event_body(sql::Db& db, const EventLog& log);

}  // namespace switchyard::journal
