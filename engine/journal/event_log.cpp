#include "journal/event_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#include "journal/crc32c.hpp"
#include "journal/sqlite.hpp"

namespace switchyard::journal {

static_assert(std::endian::native == std::endian::little, "the event log is written little-endian");

namespace {

constexpr std::uint64_t kOffsetMask = (std::uint64_t{1} << 40) - 1;
// A log with nothing left in it is started afresh once its segment has grown this big.
constexpr std::uint64_t kRestartBytes = std::uint64_t{4} << 20;

template <class T>
void put(unsigned char* at, T value) {
  std::memcpy(at, &value, sizeof value);
}
template <class T>
T get(const unsigned char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

struct Header {
  std::uint32_t size = 0;
  std::uint32_t crc = 0;
  std::uint64_t seq = 0;
  std::int64_t pipeline = 0;
  std::uint64_t mask = 0;
  std::uint32_t writes = 0;
  std::uint32_t segment = 0;  // written to (0: by a version before segments were used again)
  std::uint64_t total() const { return EventLog::kHeaderBytes + std::uint64_t{size} + writes; }
};

Header parse(const unsigned char* h) {
  return {get<std::uint32_t>(h), get<std::uint32_t>(h + 4), get<std::uint64_t>(h + 8), get<std::int64_t>(h + 16),
          get<std::uint64_t>(h + 24), get<std::uint32_t>(h + 32), get<std::uint32_t>(h + 36)};
}

// Over the header after the CRC, the body and the state writes, from `key` (0 for records
// naming no segment: older versions').
std::uint32_t record_crc(std::uint32_t key, const unsigned char* header, std::string_view body, std::string_view writes,
                         std::string_view body_rest = {}) {
  const std::uint32_t c = crc32c(key, {reinterpret_cast<const char*>(header) + 8, EventLog::kHeaderBytes - 8});
  return crc32c(crc32c(crc32c(c, body), body_rest), writes);
}

std::string errno_text(int error) { return std::strerror(error); }

bool pread_all(int fd, char* out, std::size_t n, std::uint64_t offset) {
  while (n > 0) {
    const ssize_t got = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    n -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
  return true;
}

Status sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return retryable(dir.string() + ": " + errno_text(errno));
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return retryable(dir.string() + ": fsync: " + errno_text(error));
  return {};
}

// "0000000042.log" → 42 (or "0000000042.spare" with that suffix); nullopt for any other name.
std::optional<std::uint32_t> segment_number(const std::string& name, std::string_view suffix = ".log") {
  if (name.size() != 10 + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + 10, n);
  if (ec != std::errc() || end != name.data() + 10 || n == 0) return std::nullopt;
  return n;
}

std::filesystem::path numbered(const std::filesystem::path& dir, std::uint32_t number, const char* suffix) {
  char name[32];
  std::snprintf(name, sizeof name, "%010u%s", number, suffix);
  return dir / name;
}

}  // namespace

struct EventLog::Segment {
  std::uint32_t number = 0;
  std::filesystem::path path;
  int fd = -1;
  std::uint64_t size = 0;  // bytes written (the active one: durable ones)
  std::uint64_t allocated = 0;  // bytes the file has (more than `size` when it is used again)
  std::uint64_t first_seq = 0, last_seq = 0;  // of the records in it (0: none)
  bool legacy = false;  // holds records of an older version (segment 0): never used again
  dev_t dev = 0;
  ino_t ino = 0;
  ~Segment() {
    if (fd >= 0) ::close(fd);
  }
};

EventLog::EventLog(std::filesystem::path dir, bool writer) : dir_(std::move(dir)), writer_(writer) {}

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

// A clean stop leaves the segment being written as long as its records, so the next start
// finds nothing of the file's earlier use after them.
EventLog::~EventLog() {
  if (writer_ && active_ && active_->allocated > written_) {
    if (::ftruncate(active_->fd, static_cast<off_t>(written_)) == 0 && fsync_) (void)!::fsync(active_->fd);
  }
}

std::filesystem::path EventLog::path_of(std::uint32_t number) const { return numbered(dir_, number, ".log"); }

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
// crash): cut off; with good ones of this segment after it, the same when nothing
// journal.db refers to lies there (Options::referenced_end). Records of the file's
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
  const bool legacy = data.size() >= kHeaderBytes && parse(bytes).segment == 0 && parse(bytes).seq > last_seq_ &&
                      checks(0, parse(bytes));
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

// A spare renamed to be segment `number`, or nullptr (none, or the rename failed).
std::shared_ptr<EventLog::Segment> EventLog::take_spare(std::uint32_t number) {
  std::shared_ptr<Segment> seg;
  {
    std::lock_guard lock(mutex_);
    if (spares_.empty()) return nullptr;
    seg = std::move(spares_.back());
    spares_.pop_back();
  }
  const auto path = path_of(number);
  auto fresh = std::make_shared<Segment>();
  fresh->number = number;
  fresh->path = path;
  struct stat st {};
  if (::rename(seg->path.c_str(), path.c_str()) != 0) {
    std::error_code ignored;
    std::filesystem::remove(seg->path, ignored);
    return nullptr;
  }
  fresh->fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);  // a segment open() found was read-only
  if (fresh->fd < 0 || ::fstat(fresh->fd, &st) != 0) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return nullptr;
  }
  fresh->allocated = static_cast<std::uint64_t>(st.st_size);
  fresh->dev = st.st_dev;
  fresh->ino = st.st_ino;
  return fresh;
}

// The next segment: a spare renamed, else a new file. A segment used before is first cut
// to what it holds now (open() reads a segment before the last one to its end).
Status EventLog::start_segment() {
  if (active_ && active_->allocated > written_) {
    if (::ftruncate(active_->fd, static_cast<off_t>(written_)) != 0 || (fsync_ && ::fsync(active_->fd) != 0)) {
      return retryable(active_->path.string() + ": cannot cut it to its records: " + errno_text(errno));
    }
    active_->allocated = written_;
  }
  const std::uint32_t number = highest_number_ + 1;
  auto seg = take_spare(number);
  if (!seg) {
    seg = std::make_shared<Segment>();
    seg->number = number;
    seg->path = path_of(number);
    seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (seg->fd < 0) {
      no_space_ = errno == ENOSPC;
      return retryable(seg->path.string() + ": " + errno_text(errno));
    }
    struct stat st {};
    if (::fstat(seg->fd, &st) == 0) {
      seg->dev = st.st_dev;
      seg->ino = st.st_ino;
    }
  }
  highest_number_ = number;
  if (fsync_) {
    if (Status s = sync_dir(dir_); !s) return s;
  }
  {
    std::lock_guard lock(mutex_);
    segments_[number] = seg;
  }
  active_ = std::move(seg);
  written_ = 0;
  return {};
}

Result<std::uint64_t> EventLog::add(std::uint64_t seq, std::int64_t pipeline, std::uint64_t mask, std::string_view body,
                                    std::string writes, std::string_view body_rest) {
  const std::uint64_t body_bytes = body.size() + body_rest.size();
  const std::uint64_t bytes = kHeaderBytes + body_bytes + writes.size();
  if (!active_) {
    if (Status s = start_segment(); !s) return s.error();
  } else if (written_ + queued_bytes_ > 0 && written_ + queued_bytes_ + bytes > segment_bytes_) {
    // This segment is full: what is queued goes to it, synced, then the next one starts.
    if (Status s = sync(); !s) return s.error();
    if (Status s = start_segment(); !s) return s.error();
  }
  const std::uint64_t location = log_location(active_->number, written_ + queued_bytes_);
  Queued& q = queued_.emplace_back();
  put(q.header, static_cast<std::uint32_t>(body_bytes));
  put(q.header + 8, seq);
  put(q.header + 16, pipeline);
  put(q.header + 24, mask);
  put(q.header + 32, static_cast<std::uint32_t>(writes.size()));
  put(q.header + 36, active_->number);
  put(q.header + 4, record_crc(key_of(active_->number), q.header, body, writes, body_rest));
  q.body = body;
  q.body_rest = body_rest;
  q.writes = std::move(writes);
  queued_bytes_ += bytes;
  return location;
}

Status EventLog::write_queued() {
  std::vector<iovec> io;
  io.reserve(queued_.size() * 3);
  for (auto& q : queued_) {
    io.push_back({q.header, kHeaderBytes});
    if (!q.body.empty()) io.push_back({const_cast<char*>(q.body.data()), q.body.size()});
    if (!q.body_rest.empty()) io.push_back({const_cast<char*>(q.body_rest.data()), q.body_rest.size()});
    if (!q.writes.empty()) io.push_back({q.writes.data(), q.writes.size()});
  }
  std::uint64_t offset = written_;
  std::size_t first = 0;
  while (first < io.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(io.size() - first, IOV_MAX));
    const ssize_t n = ::pwritev(active_->fd, io.data() + first, count, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      no_space_ = errno == ENOSPC;
      return retryable(active_->path.string() + ": " + errno_text(errno));
    }
    offset += static_cast<std::uint64_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (first < io.size() && left >= io[first].iov_len) left -= io[first++].iov_len;
    if (left > 0) {  // a short write: the rest of this buffer next
      io[first].iov_base = static_cast<char*>(io[first].iov_base) + left;
      io[first].iov_len -= left;
    }
  }
  return {};
}

Status EventLog::sync() {
  if (queued_.empty()) return {};
  Status status = write_queued();
  if (status && fsync_ && ::fdatasync(active_->fd) != 0) {
    no_space_ = errno == ENOSPC;
    status = retryable(active_->path.string() + ": fdatasync: " + errno_text(errno));
  }
  if (!status) {
    discard();
    return status;
  }
  no_space_ = false;
  written_ += queued_bytes_;
  active_->allocated = std::max(active_->allocated, written_);
  {
    std::lock_guard lock(mutex_);
    active_->size = written_;
    if (active_->first_seq == 0) active_->first_seq = get<std::uint64_t>(queued_.front().header + 8);
    active_->last_seq = get<std::uint64_t>(queued_.back().header + 8);
  }
  queued_.clear();
  queued_bytes_ = 0;
  return {};
}

void EventLog::discard() {
  queued_.clear();
  queued_bytes_ = 0;
  // Whatever of it reached the file goes; should that fail, the records stay as ones no row
  // refers to (never read; their sequence numbers are not used again).
  if (active_ && ::ftruncate(active_->fd, static_cast<off_t>(written_)) == 0) active_->allocated = written_;
}

bool EventLog::releases(std::optional<std::uint64_t> oldest, bool idle) const {
  if (!active_) return false;
  if (!oldest && idle && written_ >= std::min(segment_bytes_, kRestartBytes)) return true;
  const std::uint32_t keep_from = oldest ? static_cast<std::uint32_t>(*oldest >> 40) : active_->number;
  std::lock_guard lock(mutex_);
  return !segments_.empty() && segments_.begin()->first < keep_from && segments_.begin()->second != active_;
}

Status EventLog::replay_after(std::uint64_t seq, const std::function<Status(const Record&)>& fn) const {
  std::vector<std::shared_ptr<Segment>> later;
  {
    std::lock_guard lock(mutex_);
    for (auto& [_, seg] : segments_) {
      if (seg->last_seq > seq) later.push_back(seg);
    }
  }
  for (const auto& seg : later) {
    std::string data(seg->size, '\0');
    if (!pread_all(seg->fd, data.data(), data.size(), 0)) return permanent(seg->path.string() + ": " + errno_text(errno));
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
    for (std::size_t at = 0; at + kHeaderBytes <= data.size();) {
      const Header h = parse(bytes + at);
      if (h.seq > seq) {
        const std::string_view rest = std::string_view(data).substr(at + kHeaderBytes);
        Record r{h.seq, h.pipeline, h.mask, log_location(seg->number, at), rest.substr(0, h.size),
                 rest.substr(h.size, h.writes)};
        if (Status s = fn(r); !s) return s;
      }
      at += h.total();
    }
  }
  return {};
}

EventLog::Deletion EventLog::release(std::optional<std::uint64_t> oldest, bool idle) {
  if (!active_) return {};
  const std::uint32_t keep_from = oldest ? static_cast<std::uint32_t>(*oldest >> 40) : active_->number;
  if (!oldest && idle && written_ >= std::min(segment_bytes_, kRestartBytes) && queued_.empty()) {
    if (!start_segment()) return {};  // tried again at the next release
  }
  std::vector<std::shared_ptr<Segment>> gone;
  {
    std::lock_guard lock(mutex_);
    for (auto it = segments_.begin(); it != segments_.end() && it->first < keep_from;) {
      if (it->second == active_) break;
      gone.push_back(std::move(it->second));
      it = segments_.erase(it);
    }
    if (!oldest) {
      for (auto it = segments_.begin(); it != segments_.end();) {
        if (it->second == active_) {
          ++it;
          continue;
        }
        gone.push_back(std::move(it->second));
        it = segments_.erase(it);
      }
    }
  }
  if (gone.empty()) return {};
  // Up to kSpares are kept to be written over, newest first; the others are deleted. A
  // reader of this log holding one reads on: the file lives until its last descriptor
  // closes, which is when the file system frees its blocks (one it holds is not used
  // again). A reader in another process (EventLog::reader) may find its file written over:
  // read() answers "gone" then. Runs on another thread; the log outlives it (the journal
  // stops its threads first).
  return [this, gone = std::move(gone)]() mutable {
    std::vector<std::string> problems;
    for (auto it = gone.rbegin(); it != gone.rend(); ++it) {
      auto& seg = *it;
      bool spare = false;
      {
        std::lock_guard lock(mutex_);
        spare = writer_ && seg.use_count() == 1 && seg->fd >= 0 && !seg->legacy && spares_.size() < kSpares;
      }
      if (spare) {
        const auto path = numbered(dir_, seg->number, ".spare");
        if (::rename(seg->path.c_str(), path.c_str()) == 0) {
          seg->path = path;
          std::lock_guard lock(mutex_);
          spares_.push_back(std::move(seg));
          continue;
        }
      }
      std::error_code ec;
      std::filesystem::remove(seg->path, ec);
      if (ec) problems.push_back("could not delete " + seg->path.string() + ": " + ec.message());
    }
    gone.clear();
    return problems;
  };
}

std::uint64_t EventLog::live_bytes(std::optional<std::uint64_t> oldest) const {
  if (!oldest) return 0;
  const auto number = static_cast<std::uint32_t>(*oldest >> 40);
  std::uint64_t bytes = 0;
  std::lock_guard lock(mutex_);
  for (auto it = segments_.lower_bound(number); it != segments_.end(); ++it) bytes += it->second->size;
  const std::uint64_t offset = *oldest & kOffsetMask;
  return bytes > offset ? bytes - offset : 0;
}

std::uint64_t EventLog::end() const { return active_ ? log_location(active_->number, written_) : 0; }

std::vector<std::string> EventLog::take_warnings() {
  std::vector<std::string> out;
  out.swap(warnings_);
  return out;
}

std::string EventLog::check() const {
  if (!active_) return {};
  const std::string name = "events/" + active_->path.filename().string();
  struct stat st {};
  if (::fstat(active_->fd, &st) == 0 && st.st_nlink == 0) return name + " was deleted";
  if (::stat(active_->path.c_str(), &st) != 0) {
    return name + (errno == ENOENT ? " was deleted" : " cannot be looked at: " + errno_text(errno));
  }
  if (st.st_dev != active_->dev || st.st_ino != active_->ino) return name + " was replaced by another file";
  return {};
}

Status EventLog::expect(std::uint64_t location) const {
  const auto number = static_cast<std::uint32_t>(location >> 40);
  std::lock_guard lock(mutex_);
  auto it = segments_.find(number);
  if (it != segments_.end() && (location & kOffsetMask) < it->second->size) return {};
  return permanent("journal.db refers to " + path_of(number).string() + (it == segments_.end() ? ", which is missing" : ", which is shorter") +
                   ": the bodies of the events it lists are not there. The engine will not run without them; "
                   "put the events/ directory that belongs with this journal.db back beside it (or move both aside "
                   "to start empty)");
}

std::string EventLog::restore() const {
  std::vector<std::shared_ptr<Segment>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [_, seg] : segments_) all.push_back(seg);
  }
  std::string done;
  for (const auto& seg : all) {
    struct stat st {};
    if (::stat(seg->path.c_str(), &st) == 0 || errno != ENOENT || seg->fd < 0) continue;
    const auto temp = seg->path.string() + ".restoring";
    const int out = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = out >= 0;
    std::uint64_t at = 0;
    char buffer[1 << 16];
    while (ok && at < seg->size) {
      const auto n = ::pread(seg->fd, buffer, std::min<std::uint64_t>(sizeof buffer, seg->size - at), static_cast<off_t>(at));
      ok = n > 0 && ::write(out, buffer, static_cast<std::size_t>(n)) == n;
      at += n > 0 ? static_cast<std::uint64_t>(n) : 0;
    }
    ok = ok && ::fsync(out) == 0;
    if (out >= 0) ::close(out);
    ok = ok && ::rename(temp.c_str(), seg->path.c_str()) == 0;
    done += (done.empty() ? "" : "; ") + seg->path.filename().string() + (ok ? " written back" : " could not be written back: " + errno_text(errno));
  }
  return done.empty() ? "no segment to write back" : "event log: " + done;
}

std::shared_ptr<EventLog::Segment> EventLog::segment(std::uint32_t number) const {
  std::lock_guard lock(mutex_);
  if (auto it = segments_.find(number); it != segments_.end()) return it->second;
  if (writer_) {
    // Segments go oldest first: one before the oldest kept was released (every row that
    // referred to it is gone); any other is missing.
    if (segments_.empty() || number < segments_.begin()->first) return nullptr;
    auto missing = std::make_shared<Segment>();
    missing->number = number;
    missing->path = path_of(number);
    return missing;  // fd -1: the read fails, naming the file
  }
  auto seg = std::make_shared<Segment>();
  seg->number = number;
  seg->path = path_of(number);
  seg->fd = ::open(seg->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (seg->fd < 0) return nullptr;
  segments_.emplace(number, seg);
  return seg;
}

Result<std::optional<std::string>> EventLog::read(std::uint64_t location, std::uint64_t seq) const {
  const auto number = static_cast<std::uint32_t>(location >> 40);
  const std::uint64_t offset = location & kOffsetMask;
  auto seg = segment(number);
  if (!seg) return std::optional<std::string>();
  unsigned char header[kHeaderBytes];
  const std::string where = seg->path.string() + " at byte " + std::to_string(offset);
  errno = 0;
  if (seg->fd < 0 || !pread_all(seg->fd, reinterpret_cast<char*>(header), kHeaderBytes, offset)) {
    return permanent(where + ": event " + std::to_string(seq) + " is not there (" +
                     (seg->fd < 0 ? std::string("the file is missing")
                                  : errno ? errno_text(errno) : std::string("the file ends before it")) + ")");
  }
  // A reader in another process may hold a file the writer has since let go and used
  // again as another segment: what it finds there then is gone, not damaged.
  auto used_again = [&] {
    struct stat held {}, named {};
    return !writer_ && ::fstat(seg->fd, &held) == 0 &&
           (::stat(seg->path.c_str(), &named) != 0 || named.st_ino != held.st_ino || named.st_dev != held.st_dev);
  };
  const Header h = parse(header);
  if (h.segment != 0 && h.segment != number) return std::optional<std::string>();  // the file is another segment now
  if (h.seq != seq) {
    if (used_again()) return std::optional<std::string>();
    return permanent(where + ": event " + std::to_string(seq) + " is not there (found " + std::to_string(h.seq) + ")");
  }
  struct stat st {};
  if (::fstat(seg->fd, &st) != 0 || offset + h.total() > static_cast<std::uint64_t>(st.st_size)) {
    if (used_again()) return std::optional<std::string>();
    return permanent(where + ": the record of event " + std::to_string(seq) + " runs past the end of the file (damaged)");
  }
  std::string rest(h.size + std::size_t{h.writes}, '\0');
  if (!pread_all(seg->fd, rest.data(), rest.size(), offset + kHeaderBytes) ||
      h.crc != record_crc(h.segment == 0 ? 0 : key_of(number), header, std::string_view(rest).substr(0, h.size),
                          std::string_view(rest).substr(h.size))) {
    if (used_again()) return std::optional<std::string>();
    return permanent(where + ": the record of event " + std::to_string(seq) + " does not check (damaged)");
  }
  rest.resize(h.size);
  return std::optional<std::string>(std::move(rest));
}

Status register_event_body(sql::Db& db, const EventLog& log) {
  auto fn = [](sqlite3_context* ctx, int, sqlite3_value** args) {
    if (sqlite3_value_type(args[2]) == SQLITE_NULL) {
      sqlite3_result_value(ctx, args[1]);
      return;
    }
    const auto* log = static_cast<const EventLog*>(sqlite3_user_data(ctx));
    auto body = log->read(static_cast<std::uint64_t>(sqlite3_value_int64(args[2])),
                          static_cast<std::uint64_t>(sqlite3_value_int64(args[0])));
    if (!body) {
      sqlite3_result_error(ctx, body.error().message.c_str(), -1);
    } else if (!*body) {
      sqlite3_result_null(ctx);
    } else {
      sqlite3_result_blob64(ctx, (*body)->data(), (*body)->size(), SQLITE_TRANSIENT);
    }
  };
  const int rc = sqlite3_create_function_v2(db.get(), "event_body", 3, SQLITE_UTF8, const_cast<EventLog*>(&log), fn,
                                            nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return permanent("event_body: " + db.error());
  return {};
}

}  // namespace switchyard::journal
