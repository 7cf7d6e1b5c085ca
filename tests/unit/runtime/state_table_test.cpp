// The engine's component state in memory (runtime::StateTable): values by key, expiry by
// TTL (oldest first, a later write's TTL counting), put_if_absent as the delivery-id check
// of every webhook uses it, erase and forget, over many keys.
#include "runtime/state_store.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace switchyard::runtime {
namespace {

using namespace std::chrono_literals;

TEST(StateTable, ValuesAreReadBackChangedErasedAndForgotten) {
  StateTable table;
  EXPECT_EQ(table.get("a"), std::nullopt);
  table.put("a", "1", 0ms);
  EXPECT_EQ(table.get("a"), "1");
  table.put("a", "2", 0ms);
  EXPECT_EQ(table.get("a"), "2");
  table.erase("a");
  EXPECT_EQ(table.get("a"), std::nullopt);
  table.put("b", "kept", 10s);
  table.forget("b");
  EXPECT_EQ(table.get("b"), std::nullopt);
  table.forget("never there");
  table.erase("never there");
  table.put("b", "again", 0ms);
  EXPECT_EQ(table.get("b"), "again");
}

TEST(StateTable, PutIfAbsentTakesAKeyOnceUntilItExpires) {
  StateTable table;
  EXPECT_TRUE(table.put_if_absent("delivery/1", "x", 30ms));
  EXPECT_FALSE(table.put_if_absent("delivery/1", "y", 30ms));
  EXPECT_EQ(table.get("delivery/1"), "x") << "a refused put_if_absent changed the value";
  std::this_thread::sleep_for(60ms);
  EXPECT_EQ(table.get("delivery/1"), std::nullopt) << "expired";
  EXPECT_TRUE(table.put_if_absent("delivery/1", "z", 10s)) << "an expired key is absent";
  EXPECT_EQ(table.get("delivery/1"), "z");
  EXPECT_FALSE(table.put_if_absent("delivery/1", "w", 0ms));
}

TEST(StateTable, AWriteWithALaterTtlKeepsTheEntryAndExpiredOnesGo) {
  StateTable table;
  table.put("short-then-long", "1", 30ms);
  table.put("short-then-long", "2", 10s);  // its expiry moves
  table.put("long-then-short", "3", 10s);
  table.put("long-then-short", "4", 30ms);
  table.put("forever", "5", 0ms);
  table.put("short", "6", 20ms);
  std::this_thread::sleep_for(60ms);
  table.put("trigger", "purges what expired", 10s);
  EXPECT_EQ(table.get("short-then-long"), "2");
  EXPECT_EQ(table.get("long-then-short"), std::nullopt);
  EXPECT_EQ(table.get("forever"), "5");
  EXPECT_EQ(table.get("short"), std::nullopt);
  // A key that expired and was purged can be written again.
  EXPECT_TRUE(table.put_if_absent("short", "7", 10s));
  EXPECT_EQ(table.get("short"), "7");
}

TEST(StateTable, ManyDeliveryIdsAreEachTakenOnce) {
  StateTable table;
  constexpr int kKeys = 200'000;
  auto key = [](int i) { return "bench/github.webhook/delivery/72d3162e-cc78-11e3-81ab-" + std::to_string(1'000'000 + i); };
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(table.put_if_absent(key(i), "1", 10min)) << i;
  for (int i = 0; i < kKeys; i += 7) ASSERT_FALSE(table.put_if_absent(key(i), "x", 10min)) << i;
  for (int i = 0; i < kKeys; i += 2) table.erase(key(i));
  for (int i = 0; i < kKeys; i += 5) ASSERT_EQ(table.get(key(i)), i % 2 == 0 ? std::nullopt : std::optional<std::string>("1")) << i;
  for (int i = 0; i < kKeys; i += 3) ASSERT_EQ(table.put_if_absent(key(i), "2", 10min), i % 2 == 0) << i;
  for (int i = 0; i < kKeys; i += 3) ASSERT_EQ(table.get(key(i)), i % 2 == 0 ? "2" : "1") << i;
}

}  // namespace
}  // namespace switchyard::runtime
