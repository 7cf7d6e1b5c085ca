// split with the harness and the engine's expressions.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "split.hpp"

namespace switchyard::core {
namespace {

using testing::Harness;
using testing::make_event;

// GitHub's push example, shortened: three commits.
constexpr const char* kPush = R"({"ref": "refs/heads/main",
  "repository": {"full_name": "octo/hello"}, "pusher": {"name": "mona"},
  "commits": [{"id": "a1", "message": "one"}, {"id": "b2", "message": "two"}, {"id": "c3", "message": "three"}]})";

std::unique_ptr<Event> push(const char* payload = kPush) {
  auto event = make_event("github.push", payload);
  event->id = "delivery-7";
  event->subject = "refs/heads/main";
  event->set_meta("x-github-event", "push");
  return event;
}

TEST(Split, MakesOneEventPerItemInOrderWithTheEnvelopeOfItsParent) {
  Harness h(kSplitDecl, R"({"items": "${{ payload.commits }}",
                            "with": {"repo": "${{ payload.repository.full_name }}", "pusher": "${{ payload.pusher.name }}"}})");
  ASSERT_TRUE(h.configure());
  auto parent = push();
  auto events = h.split(*parent);
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->size(), 3u);
  const char* shas[] = {"a1", "b2", "c3"};
  for (std::size_t i = 0; i < 3; ++i) {
    const Event& e = *(*events)[i];
    EXPECT_EQ(e.id, "delivery-7-" + std::to_string(i));
    EXPECT_EQ(e.type, "github.push");
    EXPECT_EQ(e.subject, "refs/heads/main");
    EXPECT_EQ(e.time, parent->time);
    EXPECT_STREQ(e.meta["x-github-event"].GetString(), "push");
    EXPECT_STREQ(e.data["item"]["id"].GetString(), shas[i]);
    EXPECT_EQ(e.data["index"].GetUint64(), i);
    EXPECT_EQ(e.data["count"].GetUint64(), 3u);
    EXPECT_STREQ(e.data["repo"].GetString(), "octo/hello");
    EXPECT_STREQ(e.data["pusher"].GetString(), "mona");
    EXPECT_FALSE(e.data.HasMember("commits")) << "the parent's payload is not copied into each event";
  }
}

TEST(Split, TheSameParentGivesTheSameIds) {
  Harness h(kSplitDecl, R"({"items": "${{ payload.commits }}"})");
  ASSERT_TRUE(h.configure());
  auto first = h.split(*push());
  auto again = h.split(*push());
  ASSERT_TRUE(first && again);
  ASSERT_EQ(first->size(), again->size());
  for (std::size_t i = 0; i < first->size(); ++i) EXPECT_EQ((*first)[i]->id, (*again)[i]->id);
}

TEST(Split, AnIdTemplateSeesTheItemAndTheParentsId) {
  Harness h(kSplitDecl, R"({"items": "${{ payload.commits }}", "id": "${{ event.id }}:${{ payload.item.id }}"})");
  ASSERT_TRUE(h.configure());
  auto events = h.split(*push());
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0]->id, "delivery-7:a1");
  EXPECT_EQ((*events)[2]->id, "delivery-7:c3");
}

TEST(Split, NoItemsMakesNoEvent) {
  Harness h(kSplitDecl, R"({"items": "${{ payload.commits }}"})");
  ASSERT_TRUE(h.configure());
  auto empty = h.split(*push(R"({"commits": []})"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  auto missing = h.split(*push(R"({"ref": "refs/tags/v1"})"));
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->empty());
}

TEST(Split, ANonArrayFailsTheEvent) {
  Harness h(kSplitDecl, R"({"items": "${{ payload.ref }}"})");
  ASSERT_TRUE(h.configure());
  auto events = h.split(*push());
  ASSERT_FALSE(events);
  EXPECT_EQ(events.error().kind, ErrorKind::permanent);
  EXPECT_EQ(events.error().message, "items: expected an array, got a string");
}

TEST(Split, MoreItemsThanMaxItemsFailTheEvent) {
  Harness h(kSplitDecl, R"({"items": "${{ payload.commits }}", "max_items": 2})");
  ASSERT_TRUE(h.configure());
  auto events = h.split(*push());
  ASSERT_FALSE(events);
  EXPECT_EQ(events.error().message, "items: 3 items, more than max_items (2)");
  Harness three(kSplitDecl, R"({"items": "${{ payload.commits }}", "max_items": 3})");
  ASSERT_TRUE(three.configure());
  EXPECT_TRUE(three.split(*push()));
}

TEST(Split, ItemsIsRequiredAndMaxItemsPositive) {
  Harness none(kSplitDecl, R"({})");
  EXPECT_FALSE(none.configure());
  Harness zero(kSplitDecl, R"({"items": "${{ payload.commits }}", "max_items": 0})");
  auto s = zero.configure();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "max_items: expected 1 or more");
}

}  // namespace
}  // namespace switchyard::core
