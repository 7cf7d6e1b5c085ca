// Opening the event log: its key, reading every segment through (recovery), the spares
// found.
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "journal/event_log_parts.hpp"

namespace switchyard::journal {

using namespace event_log_detail;

// events/key, when there is one (a log written before it has none: every record with 0).
Status EventLog::read_key() {
  const auto path = dir_ / "key";
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return {};
    return permanent(path.string() + ": " + errno_text(errno));
  }
  std::uint64_t key = 0, from = 0;
  std::string rest;
  if (!(in >> key >> from) || key == 0 || key > UINT32_MAX || from == 0 || from > UINT32_MAX || (in >> rest)) {
    return permanent(path.string() + " is damaged (expected \"<key> <first segment>\"). The engine will not run "
                     "on the event log without it: put back the file that belongs with events/");
  }
  key_ = static_cast<std::uint32_t>(key);
  keyed_from_ = static_cast<std::uint32_t>(from);
  return {};
}

// A new key for the segments from the next one on, durable before any of them is written.
Status EventLog::make_key() {
  std::random_device random;
  std::uint32_t key = 0;
  while (key == 0) key = random();
  const std::uint32_t from = highest_number_ + 1;
  const auto path = dir_ / "key";
  const auto temp = dir_ / "key.new";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << key << ' ' << from << '\n';
    out.flush();
    if (!out) return permanent(temp.string() + ": cannot write it: " + errno_text(errno));
  }
  const int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
  const bool synced = fd >= 0 && (!fsync_ || ::fsync(fd) == 0);
  if (fd >= 0) ::close(fd);
  if (!synced || ::rename(temp.c_str(), path.c_str()) != 0) return permanent(path.string() + ": " + errno_text(errno));
  if (fsync_) {
    if (Status s = sync_dir(dir_); !s) return s;
  }
  key_ = key;
  keyed_from_ = from;
  return {};
}

std::unique_ptr<EventLog> EventLog::reader(std::filesystem::path dir) {
  std::unique_ptr<EventLog> log(new EventLog(std::move(dir), /*writer=*/false));
  (void)log->read_key();  // unreadable: its reads fail, naming the record
  return log;
}

Result<std::unique_ptr<EventLog>> EventLog::open(const Options& options) {
  std::unique_ptr<EventLog> log(new EventLog(options.dir, /*writer=*/true));
  log->fsync_ = options.fsync;
  log->segment_bytes_ = std::max<std::uint64_t>(options.segment_bytes, 4096);
  std::error_code ec;
  if (std::filesystem::create_directories(options.dir, ec) && !ec) {
    std::filesystem::permissions(options.dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
    if (options.fsync && !ec) {
      if (Status s = sync_dir(options.dir.parent_path()); !s) return s.error();
    }
  }
  if (ec) return permanent(options.dir.string() + ": " + ec.message());
  std::vector<std::uint32_t> numbers, spares;
  for (const auto& entry : std::filesystem::directory_iterator(options.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (auto n = segment_number(name)) numbers.push_back(*n);
    if (auto n = segment_number(name, ".spare")) spares.push_back(*n);
  }
  if (ec) return permanent(options.dir.string() + ": " + ec.message());
  if (Status s = log->read_key(); !s) return s.error();
  std::sort(numbers.begin(), numbers.end());
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    if (Status s = log->recover(numbers[i], i + 1 == numbers.size(), options.committed); !s) return s.error();
  }
  // A spare's old records carry its number: every segment from now on is numbered after it.
  std::sort(spares.begin(), spares.end(), std::greater<>());
  for (std::uint32_t n : spares) log->keep_spare(n);
  log->highest_number_ = std::max(numbers.empty() ? 0 : numbers.back(), spares.empty() ? 0 : spares.front());
  if (log->keyed_from_ == UINT32_MAX) {
    if (Status s = log->make_key(); !s) return s.error();
  }
  if (!numbers.empty()) {  // else the first add() starts one
    log->active_ = log->segments_.rbegin()->second;
    log->written_ = log->active_->size;
  }
  return log;
}

// Reads segment `number` through, checking each record. In the last segment, a record that
// does not check with no good record after it is a write the engine did not finish (a
// crash): cut off; with good ones of this segment after it, the same when journal.db
// knows of nothing there (Options::committed). Records of the file's
// earlier use as another segment end it too: they stay, to be written over. Anything else
// that does not check is damage.
Status EventLog::recover(std::uint32_t number, bool last, const std::optional<Committed>& committed) {
  auto seg = std::make_shared<Segment>();
  seg->number = number;
  seg->path = path_of(number);
  seg->fd = ::open(seg->path.c_str(), (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (seg->fd < 0) return permanent(seg->path.string() + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(seg->fd, &st) != 0) return permanent(seg->path.string() + ": " + errno_text(errno));
  seg->dev = st.st_dev;
  seg->ino = st.st_ino;
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  if (!pread_all(seg->fd, data.data(), data.size(), 0)) {
    return permanent(seg->path.string() + ": cannot read it: " + errno_text(errno));
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  auto checks = [&](std::size_t at, const Header& h) {
    if (h.total() > data.size() - at) return false;
    const std::string_view rest = std::string_view(data).substr(at + kHeaderBytes);
    return h.crc == record_crc(h.segment == 0 ? 0 : key_of(number), bytes + at, rest.substr(0, h.size),
                               rest.substr(h.size, h.writes));
  };
  // Records name their segment; only a segment an older version began holds ones naming
  // none (0), from its start (it is never used again). Anything else naming none is not a
  // record: it may be bytes of an earlier use's payload.
  const Header first = data.size() >= kHeaderBytes ? parse(bytes) : Header{};
  const bool legacy = data.size() >= kHeaderBytes && first.segment == 0 && first.seq > last_seq_ && checks(0, first);
  // A record of this segment that checks at `at`, numbered after `after`: its end, else 0.
  bool named_seen = false;  // a record naming this segment: none naming none after it
  auto good_at = [&](std::size_t at, std::uint64_t after) -> std::size_t {
    if (data.size() - at < kHeaderBytes) return 0;
    const Header h = parse(bytes + at);
    const bool ours = h.segment != 0 ? h.segment == number : legacy && !named_seen;
    if (h.seq <= after || !ours || !checks(at, h)) return 0;
    return at + h.total();
  };
  std::size_t at = 0;
  while (at < data.size()) {
    const std::size_t end = good_at(at, last_seq_);
    if (end == 0) break;
    const Header h = parse(bytes + at);
    last_seq_ = h.seq;
    named_seen = named_seen || h.segment != 0;
    if (seg->first_seq == 0) seg->first_seq = last_seq_;
    seg->last_seq = last_seq_;
    at = end;
  }
  seg->legacy = legacy;
  seg->allocated = data.size();
  if (at < data.size()) {
    std::uint64_t more = 0;  // the first good record after it: its sequence number
    for (std::size_t probe = at + 1; probe + kHeaderBytes <= data.size() && more == 0; ++probe) {
      if (good_at(probe, last_seq_) != 0) more = parse(bytes + probe).seq;
    }
    // A batch never acknowledged: nothing after it that journal.db knows of, by location
    // (its rows) or by number (its commits: the batch had not reached it).
    const bool unfinished = committed && log_location(number, at) >= committed->referenced_end && more > committed->seq;
    if (!last || (more != 0 && !unfinished)) {
      return permanent(seg->path.string() + " is damaged at byte " + std::to_string(at) +
                       " (a record that does not check, with more after it). The engine will not run on it, so "
                       "nothing in it is lost: stop here, move state.dir's events/ and journal.db aside to start "
                       "empty, and keep them for recovery");
    }
    // What follows the last record of a file used before is what it held then (another
    // segment's number, or bytes of a record of it): left to be written over.
    const Header h = data.size() - at >= kHeaderBytes ? parse(bytes + at) : Header{};
    const bool earlier_use = more == 0 && h.segment != 0 && h.segment != number;
    if (!earlier_use) {
      warnings_.push_back(seg->path.string() + " ended in " +
                          (more != 0 ? "a batch of records the previous run did not finish writing, part of it on disk"
                                : "a record the previous run did not finish writing") +
                          " (" + std::to_string(data.size() - at) + " byte(s) from byte " + std::to_string(at) +
                          ", cut off; it was never acknowledged)");
      if (::ftruncate(seg->fd, static_cast<off_t>(at)) != 0 || ::fsync(seg->fd) != 0) {
        return permanent(seg->path.string() + ": cannot cut off the unfinished record: " + errno_text(errno));
      }
      seg->allocated = at;
    }
  }
  seg->size = at;
  std::lock_guard lock(mutex_);
  segments_.emplace(number, std::move(seg));
  return {};
}

// A spare found at open(): kept (up to kSpares) or deleted.
void EventLog::keep_spare(std::uint32_t number) {
  const auto path = numbered(dir_, number, ".spare");
  std::lock_guard lock(mutex_);
  if (spares_.size() < kSpares) {
    auto seg = std::make_shared<Segment>();
    seg->number = number;
    seg->path = path;
    seg->fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (seg->fd >= 0) {
      spares_.push_back(std::move(seg));
      return;
    }
  }
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

}  // namespace switchyard::journal
