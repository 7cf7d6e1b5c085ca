#pragma once
// What the journal's tests share: stored events to append, and an append that waits.

#include <future>
#include <string>

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

}  // namespace switchyard::test
