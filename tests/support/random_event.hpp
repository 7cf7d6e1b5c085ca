#pragma once
// Events with random envelopes, for tests that compare two ways of writing one: strings of
// any bytes (quotes, backslashes, control characters, UTF-8, bytes that are not UTF-8) and a
// meta object of strings, numbers, booleans, null, arrays and objects.
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "switchyard/event.hpp"

namespace switchyard::test {

inline std::string random_text(std::mt19937_64& random, std::size_t most = 24) {
  static const std::string kPieces[] = {"a", "Z", "0", " ", "/", "\"", "\\", "\n", "\t", "\r", "\b", "\f",
                                        std::string(1, '\0'), "\x01", "\x1f", "\x7f", "é", "€", "😀",
                                        "\x80", "\xff", "\xc3", "octo-org/hello", "x-github-delivery"};
  std::string out;
  const std::size_t n = random() % (most + 1);
  for (std::size_t i = 0; i < n; ++i) out += kPieces[random() % std::size(kPieces)];
  return out;
}

inline rapidjson::Value random_json(std::mt19937_64& random, Event::Allocator& allocator, int depth = 0) {
  rapidjson::Value v;
  switch (random() % (depth < 2 ? 9 : 6)) {
    case 0: case 1: case 2: {
      const std::string s = random_text(random);
      v.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), allocator);
      break;
    }
    case 3: v.SetInt64(static_cast<std::int64_t>(random())); break;
    case 4: v.SetDouble(static_cast<double>(random() % 100000) / 64.0); break;
    case 5: random() % 2 ? v.SetBool(random() % 2 == 0) : v.SetNull(); break;
    case 6: case 7: {
      v.SetObject();
      for (std::size_t i = random() % 4; i > 0; --i) {
        const std::string key = random_text(random, 6);
        rapidjson::Value name(key.data(), static_cast<rapidjson::SizeType>(key.size()), allocator);
        v.AddMember(name, random_json(random, allocator, depth + 1), allocator);
      }
      break;
    }
    default:
      v.SetArray();
      for (std::size_t i = random() % 4; i > 0; --i) v.PushBack(random_json(random, allocator, depth + 1), allocator);
  }
  return v;
}

inline std::unique_ptr<Event> random_event(std::mt19937_64& random) {
  auto event = std::make_unique<Event>();
  event->id = random_text(random);
  event->source = random_text(random);
  event->type = random_text(random);
  if (random() % 2) event->subject = random_text(random);
  if (random() % 2) event->pipeline = random_text(random);
  if (random() % 3 == 0) event->attempt = static_cast<std::uint32_t>(random() % 20);
  const auto ms = static_cast<std::int64_t>(random() % 8'000'000'000'000ULL) - 2'000'000'000'000LL;
  event->time = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  if (random() % 4 == 0) event->not_before = event->time + std::chrono::milliseconds(random() % 100000);
  event->data.SetObject();
  event->data.AddMember("n", static_cast<std::int64_t>(random() % 1000), event->data.GetAllocator());
  for (std::size_t i = random() % 8; i > 0; --i) {
    if (random() % 3) {
      event->set_meta(random_text(random, 6), random_text(random));
    } else {
      if (!event->meta.IsObject()) event->meta.SetObject();
      const std::string key = random_text(random, 6);
      rapidjson::Value name(key.data(), static_cast<rapidjson::SizeType>(key.size()), event->allocator());
      auto value = random_json(random, event->allocator(), 1);
      event->meta.AddMember(name, value, event->allocator());
    }
  }
  return event;
}

}  // namespace switchyard::test
