#pragma once
// The dead-letter queue as operators see it: listing, inspecting, replaying and dropping
// entries of a journal, from any process (the engine may be running or stopped). Used by
// `switchyard dlq` and the admin API.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "journal/sqlite.hpp"

namespace switchyard::journal {

struct DeadLetter {
  std::int64_t id = 0;
  std::string pipeline;
  std::string sink;
  std::string event_id;
  std::string type;
  std::uint32_t attempts = 0;
  std::string error;
  std::int64_t failed_at_ms = 0;  ///< Unix milliseconds.
  bool replay_requested = false;
  std::string body;  ///< encode_event() form; filled by get() only.
};

/// Which entries a command applies to; empty fields match everything.
struct DeadLetterFilter {
  std::vector<std::int64_t> ids;
  std::string pipeline;
  std::string sink;
  std::optional<std::chrono::milliseconds> older_than;  ///< failed at least this long ago
};

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
  /// How many entries there are.
  Result<std::int64_t> count();

 private:
  explicit DeadLetters(sql::Db db) : db_(std::move(db)) {}
  sql::Db db_;
};

}  // namespace switchyard::journal
