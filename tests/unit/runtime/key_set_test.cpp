// Remembered keys (runtime::KeySet, StateTable::remember): fingerprints stable across
// versions (the journal keeps them), the table against a plain map under random inserts,
// erases and growth, expiry by time-to-live, and 55-90 bytes per key.
#include "runtime/key_set.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <thread>

#include "runtime/state_store.hpp"

namespace switchyard::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = KeySet::Clock;

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// BLAKE2b with a 16-byte digest (RFC 7693's function; the values hashlib.blake2b(digest_size=16)
// gives). A change here would forget every delivery id the journals in the field hold.
TEST(KeySet, AFingerprintIsTheKeysBlake2bDigestOf16Bytes) {
  EXPECT_EQ(hex(KeySet::bytes(KeySet::fingerprint(""))), "cae66941d9efbd404e4d88758ea67670");
  EXPECT_EQ(hex(KeySet::bytes(KeySet::fingerprint("abc"))), "cf4ab791c62b8d2b2109c90275287816");
  const auto fp = KeySet::fingerprint("gh/github.webhook/delivery/72d3162e-cc78-11e3-81ab-4c9367dc0958");
  EXPECT_EQ(KeySet::from_bytes(KeySet::bytes(fp)), fp);
  EXPECT_EQ(KeySet::from_bytes("too short"), std::nullopt);
  EXPECT_EQ(KeySet::from_bytes(std::string(16, '\0')), std::nullopt) << "all zero is no fingerprint";
}

// Random inserts and erases over a small key space (so keys come back after leaving, and
// runs of neighbours form and break up) checked against std::map after every step.
TEST(KeySet, HoldsWhatAMapWouldUnderRandomInsertsAndErases) {
  KeySet set;
  std::map<int, bool> model;
  std::mt19937 rng(7);
  const auto later = Clock::now() + 1h;
  const auto now = Clock::now();
  constexpr int kKeys = 5000;
  std::vector<KeySet::Fingerprint> fps;
  for (int i = 0; i < kKeys; ++i) fps.push_back(KeySet::fingerprint("k" + std::to_string(i)));
  for (int step = 0; step < 200'000; ++step) {
    const int k = static_cast<int>(rng() % kKeys);
    if (rng() % 3 == 0) {
      set.erase(fps[k]);
      model.erase(k);
    } else {
      set.insert(fps[k], later, 1h);
      model[k] = true;
    }
    if (step % 997 == 0) {
      for (int i = 0; i < kKeys; ++i) ASSERT_EQ(set.contains(fps[i], now), model.contains(i)) << "key " << i << " step " << step;
    }
  }
  EXPECT_EQ(set.size(), model.size());
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(set.contains(fps[i], now), model.contains(i)) << i;
}

TEST(KeySet, KeysExpireByTheirTimeToLiveAndALaterExpiryKeepsOne) {
  KeySet set;
  const auto t0 = Clock::now();
  const auto a = KeySet::fingerprint("a"), b = KeySet::fingerprint("b"), c = KeySet::fingerprint("c"),
             d = KeySet::fingerprint("d");
  set.insert(a, t0 + 10s, 10s);
  set.insert(b, t0 + 20s, 10s);          // the same queue, further back
  set.insert(c, t0 + 5s, 5s);
  set.insert(c, t0 + 60s, 60s);          // remembered again for longer: stays
  set.insert(d, Clock::time_point::max(), 0s);  // for good
  EXPECT_TRUE(set.contains(a, t0 + 9s));
  EXPECT_FALSE(set.contains(a, t0 + 10s)) << "expired, even before a purge";
  set.purge(t0 + 15s);
  EXPECT_EQ(set.size(), 3u) << "a left; b, c and d stay";
  EXPECT_TRUE(set.contains(b, t0 + 15s));
  EXPECT_TRUE(set.contains(c, t0 + 15s)) << "c's first expiry passed, its second did not";
  set.purge(t0 + 1h);
  EXPECT_EQ(set.size(), 1u);
  EXPECT_TRUE(set.contains(d, t0 + 24h * 365));
  set.insert(a, t0 + 2h, 10s);  // back after leaving
  EXPECT_TRUE(set.contains(a, t0 + 1h));
}

// What dedup_window costs in memory: the number docs/operations.md gives.
TEST(KeySet, AHundredThousandKeysTakeUnderNinetySixBytesEach) {
  KeySet set;
  const auto until = Clock::now() + 1h;
  constexpr std::size_t kKeys = 100'000;
  for (std::size_t i = 0; i < kKeys; ++i) set.insert(KeySet::fingerprint("id-" + std::to_string(i)), until, 1h);
  EXPECT_EQ(set.size(), kKeys);
  const double per_key = static_cast<double>(set.memory()) / kKeys;
  EXPECT_LT(per_key, 96.0) << "24-byte slots in tables 3/8 to 3/4 full, and a 24-byte queue entry";
  EXPECT_GT(per_key, 40.0) << "the count leaves something out: a slot and a queue entry are 48 bytes";
}

TEST(StateTable, RememberedKeysAreASetApartFromTheEntries) {
  StateTable table;
  EXPECT_FALSE(table.remembers("delivery/1"));
  table.remember("delivery/1", 10min, false);
  EXPECT_TRUE(table.remembers("delivery/1"));
  EXPECT_FALSE(table.remembers("delivery/2"));
  EXPECT_EQ(table.get("delivery/1"), std::nullopt) << "a remembered key is not an entry";
  table.put("delivery/2", "1", 10min, false);
  EXPECT_FALSE(table.remembers("delivery/2")) << "an entry is not a remembered key";
  table.forget_remembered(KeySet::bytes(KeySet::fingerprint("delivery/1")));
  EXPECT_FALSE(table.remembers("delivery/1"));
  table.remember("short", 30ms, false);
  std::this_thread::sleep_for(60ms);
  EXPECT_FALSE(table.remembers("short"));
  table.remember("other", 10min, false);  // purges what expired
  EXPECT_EQ(table.remembered(), 1u);
}

}  // namespace
}  // namespace switchyard::runtime
