// The listener's route table: paths expected while pipelines start, and paths a reload moves
// from one pipeline to another.
#include "http/routes.hpp"

#include <gtest/gtest.h>

namespace switchyard::http {
namespace {

std::shared_ptr<RouteEntry> entry(std::string owner) {
  auto e = std::make_shared<RouteEntry>();
  e->handler = [](const HttpRequest&, HttpReply) {};
  e->owner = std::move(owner);
  return e;
}

class RouteTableTest : public ::testing::Test {
 protected:
  std::shared_ptr<RouteEntry> serving(std::string_view path) const {
    std::string allow;
    return table_->find("POST", path, allow);
  }
  std::shared_ptr<RouteTable> table_ = std::make_shared<RouteTable>();
};

TEST_F(RouteTableTest, AnExpectedPathIsExpectedUntilForgottenAndServedOnceAdded) {
  table_->expect({"/a", "/b"});
  EXPECT_TRUE(table_->expected("/a"));
  EXPECT_FALSE(table_->expected("/c"));
  auto a = table_->add("POST", "/a", entry("pa"));
  ASSERT_TRUE(a);
  EXPECT_NE(serving("/a"), nullptr);
  table_->forget({"/a"});
  table_->forget({"/b"});  // its pipeline failed to start: a plain 404 from now on
  EXPECT_FALSE(table_->expected("/a"));
  EXPECT_FALSE(table_->expected("/b"));
}

TEST_F(RouteTableTest, AnotherPipelineCannotTakeAPathUnlessItsOwnerYields) {
  auto e = entry("a");
  auto a = table_->add("POST", "/one", e);
  ASSERT_TRUE(a);
  auto refused = table_->add("POST", "/one", entry("b"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "POST /one is already served by pipeline 'a'");

  table_->yield({"a"});
  auto b = table_->add("POST", "/one", entry("b"));
  ASSERT_TRUE(b);
  EXPECT_EQ(serving("/one")->owner, "b");
  // A route added during this reload does not yield, even if its pipeline's old version does:
  // a third pipeline cannot take the path from the one that just took it.
  auto a2 = table_->add("POST", "/two", entry("a"));
  ASSERT_TRUE(a2);
  EXPECT_FALSE(table_->add("POST", "/two", entry("c")));
  table_->yield({});
  EXPECT_FALSE(table_->add("POST", "/one", entry("c")));

  // The old version goes: the new owner keeps serving.
  (*a).reset();
  EXPECT_EQ(serving("/one")->owner, "b");
  // Had the new one gone first, the old one would serve again.
  (*b).reset();
  EXPECT_EQ(serving("/one"), nullptr);
}

TEST_F(RouteTableTest, IfTheTakerGoesFirstTheYieldedRouteServesAgain) {
  auto a = table_->add("POST", "/one", entry("a"));
  table_->yield({"a"});
  auto b = table_->add("POST", "/one", entry("b"));
  table_->yield({});
  ASSERT_TRUE(a && b);
  (*b).reset();
  EXPECT_EQ(serving("/one")->owner, "a");
}

}  // namespace
}  // namespace switchyard::http
