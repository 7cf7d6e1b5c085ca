// The event log: writing batches, letting segments go (and keeping spares), reading
// records back. Opening and recovery: event_log_open.cpp.
#include <sys/stat.h>
#include <sys/uio.h>

#include <algorithm>

#include "journal/event_log_parts.hpp"
#include "journal/sqlite.hpp"

namespace switchyard::journal {

using namespace event_log_detail;

EventLog::EventLog(std::filesystem::path dir, bool writer) : dir_(std::move(dir)), writer_(writer) {}

// A clean stop leaves the segment being written as long as its records, so the next start
// finds nothing of the file's earlier use after them.
EventLog::~EventLog() {
  if (writer_ && active_ && active_->allocated > written_) {
    if (::ftruncate(active_->fd, static_cast<off_t>(written_)) == 0 && fsync_) (void)!::fsync(active_->fd);
  }
}

std::filesystem::path EventLog::path_of(std::uint32_t number) const { return numbered(dir_, number, ".log"); }

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
  // The writer knows how much of each segment is durable; a reader asks the file.
  std::uint64_t held = 0;
  if (writer_) {
    std::lock_guard lock(mutex_);
    held = seg->size;
  } else if (struct stat st {}; ::fstat(seg->fd, &st) == 0) {
    held = static_cast<std::uint64_t>(st.st_size);
  }
  if (offset + h.total() > held) {
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
