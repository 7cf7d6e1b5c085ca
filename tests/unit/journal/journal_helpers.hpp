#pragma once
// What the journal's tests share: stored events to append, an append that waits, opening a
// journal, and the sequence numbers of pending deliveries.

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "journal/codec.hpp"
#include "journal/journal.hpp"

namespace switchyard::test {

/// A stored event with payload {"n": n} and, given `pad`, a string of that many bytes
/// ("pad": "pp...").
inline std::string body_of(int n, std::size_t pad = 0) {
  using namespace journal;
  Event e;
  e.id = "id-" + std::to_string(n);
  e.type = "test.event";
  e.source = "test://journal";
  e.data.SetObject();
  e.data.AddMember("n", n, e.allocator());
  if (pad > 0) {
    rapidjson::Value text;
    text.SetString(std::string(pad, 'p').c_str(), static_cast<rapidjson::SizeType>(pad), e.allocator());
    e.data.AddMember("pad", text, e.allocator());
  }
  return encode_event(e);
}

/// Appends and waits for the outcome, error included.
inline Result<std::uint64_t> try_append(journal::Journal& j, std::int64_t pipeline, std::uint64_t mask, std::string body,
                                        journal::StateWrites writes = {}) {
  std::promise<Result<std::uint64_t>> done;
  auto f = done.get_future();
  j.append(pipeline, mask, std::move(body), std::move(writes),
           [&](Result<std::uint64_t> seq) { done.set_value(std::move(seq)); });
  return f.get();
}

/// A journal in `dir` without fsync (a test failure, and nullptr, when it cannot open).
inline std::unique_ptr<journal::Journal> open_journal(const std::filesystem::path& dir, std::uint64_t max_bytes = 0) {
  auto j = journal::Journal::open(journal::Options{.dir = dir, .max_bytes = max_bytes, .fsync = false});
  EXPECT_TRUE(j) << (j ? "" : j.error().message);
  return j ? std::move(*j) : nullptr;
}

/// Appends and waits for the sequence number (0, and a test failure, on an error).
inline std::uint64_t append(journal::Journal& j, std::int64_t pipeline, std::uint64_t mask, std::string body,
                            journal::StateWrites writes = {}) {
  auto seq = try_append(j, pipeline, mask, std::move(body), std::move(writes));
  EXPECT_TRUE(seq) << (seq ? "" : seq.error().message);
  return seq ? *seq : 0;
}

/// The sequence numbers of pending deliveries (none on an error).
inline std::vector<std::uint64_t> seqs(const Result<std::vector<journal::Pending>>& rows) {
  std::vector<std::uint64_t> out;
  if (rows) {
    for (const auto& r : *rows) out.push_back(r.seq);
  }
  return out;
}

}  // namespace switchyard::test
