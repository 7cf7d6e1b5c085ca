#pragma once
// The dead-letter queue as operators see it: listing, inspecting, replaying and dropping
// entries of a journal, from any process (the engine may be running or stopped). Used by
// `switchyard dlq` and the admin API.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "journal/event_log.hpp"
#include "journal/journal.hpp"
#include "journal/sqlite.hpp"
#include "switchyard/event.hpp"

namespace switchyard::journal {

/// Which entries a command applies to; empty fields match everything.
struct DeadLetterFilter {
  std::vector<std::int64_t> ids;
  std::string pipeline;
  std::string sink;
  std::optional<std::chrono::milliseconds> older_than;  ///< failed at least this long ago
};

/// Writes the fields of `d` (not its body) as members of the current JSON object.
template <class Writer>
void write_dead_letter(Writer& w, const DeadLetter& d) {
  auto str = [&](const char* key, const std::string& v) {
    w.Key(key);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.Key("id");
  w.Int64(d.id);
  str("pipeline", d.pipeline);
  str("sink", d.sink);
  str("event_id", d.event_id);
  str("type", d.type);
  w.Key("attempts");
  w.Uint(d.attempts);
  str("error", d.error);
  str("failed_at", format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(d.failed_at_ms))));
  w.Key("replay_requested");
  w.Bool(d.replay_requested);
}

/// The entries as a JSON array (one line).
std::string dead_letters_json(const std::vector<DeadLetter>& entries);

/// Writes one entry with its stored event (CloudEvents form; the raw bytes when they cannot
/// be decoded) as a JSON object.
template <class Writer>
void write_dead_letter_with_event(Writer& w, const DeadLetter& d);

class DeadLetters {
 public:
  /// Opens the journal in `state_dir`; an error when there is none or it is damaged.
  static Result<DeadLetters> open(const std::filesystem::path& state_dir);

  Result<std::vector<DeadLetter>> list(const DeadLetterFilter& filter, std::size_t limit = 0);
  /// One entry with its stored event, or nullopt when there is no such id.
  Result<std::optional<DeadLetter>> get(std::int64_t id);
  /// Marks matching entries for replay; the engine re-delivers them to their sink (at once
  /// when running, else at its next start). Returns how many were marked.
  Result<std::int64_t> replay(const DeadLetterFilter& filter);
  /// Deletes matching entries; returns how many.
  Result<std::int64_t> drop(const DeadLetterFilter& filter);
  /// Moves the undelivered journal events of `pipeline` into the DLQ, one entry per sink
  /// that still owed each, and forgets the pipeline's sinks: for a pipeline that no file
  /// defines any more, whose events would otherwise wait in the journal. Only while no
  /// pipeline of that name runs: with the engine stopped (the caller holds its
  /// StateDirLock), or by the engine at start. `how` ends each entry's error ("pipeline P is
  /// no longer configured (<how>)"). Returns the entries made.
  Result<std::int64_t> adopt(const std::string& pipeline, std::string_view how = "moved by switchyard dlq adopt");
  /// How many entries there are.
  Result<std::int64_t> count();
  /// Entries per pipeline and sink.
  Result<std::vector<std::pair<std::pair<std::string, std::string>, std::int64_t>>> counts();

 private:
  DeadLetters(std::unique_ptr<EventLog> log, sql::Db db) : log_(std::move(log)), db_(std::move(db)) {}
  std::unique_ptr<EventLog> log_;  // the events' bodies, for adopt(); outlives db_
  sql::Db db_;
};

}  // namespace switchyard::journal

#include "journal/codec.hpp"

template <class Writer>
void switchyard::journal::write_dead_letter_with_event(Writer& w, const DeadLetter& d) {
  w.StartObject();
  write_dead_letter(w, d);
  w.Key("event");
  if (auto event = decode_event(d.body)) {
    write_cloudevent(**event, w, /*use_raw_data=*/false);  // `dlq show` indents it
  } else {
    w.String(d.body.data(), static_cast<rapidjson::SizeType>(d.body.size()));
  }
  w.EndObject();
}
