// Property, index and object-filter access; contexts.
#include "expr_test_util.hpp"

namespace {

class AccessCase : public PayloadTest, public ::testing::WithParamInterface<Case> {};

TEST_P(AccessCase, EvaluatesToJson) { EXPECT_EQ(eval_json(GetParam().expr), GetParam().expected) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(Properties, AccessCase, ::testing::Values(
    Case{"payload.action", "\"completed\""},
    Case{"payload.workflow_run.actor.login", "\"octocat\""},
    Case{"payload['workflow_run']['name']", "\"CI\""},
    Case{"payload['workflow_run'].name", "\"CI\""},
    Case{"payload.workflow_run.actor", "{\"login\":\"octocat\"}"},
    Case{"payload.nested.a.b.c[2].d", "\"deep\""},
    Case{"payload.missing", "null"},
    Case{"payload.missing.deeper.still", "null"},
    Case{"payload.nul.x", "null"},
    Case{"payload.zero.x", "null"},
    Case{"payload.str.length", "null"},       // no properties on strings
    Case{"payload.t.x", "null"},
    Case{"payload.mixed-case", "1"},          // '-' is an identifier char; names are case-insensitive
    Case{"PAYLOAD.ACTION", "\"completed\""},  // contexts too
    Case{"payload.map[payload.which]", "{\"v\":2}"},
    Case{"payload.map[payload.missing]", "null"},
    Case{"payload.labels.name", "null"},      // property of an array (no filter) is null
    Case{"fromJSON('{\"a\":{\"b\":1}}').a.b", "1"},
    Case{"(payload.workflow_run).name", "\"CI\""}));

INSTANTIATE_TEST_SUITE_P(Indexes, AccessCase, ::testing::Values(
    Case{"payload.workflow_run.pull_requests[1].head.ref", "\"fix\""},
    Case{"payload.workflow_run.pull_requests[0].number", "1"},
    Case{"payload.workflow_run.pull_requests[5]", "null"},
    Case{"payload.workflow_run.pull_requests[-1]", "null"},
    Case{"payload.workflow_run.pull_requests['1'].number", "2"},
    Case{"payload.workflow_run.pull_requests[1.7].number", "2"},  // floored
    Case{"payload.workflow_run.pull_requests[NaN]", "null"},
    Case{"payload.workflow_run.pull_requests['x']", "null"},
    Case{"payload.workflow_run.pull_requests[null].number", "1"},  // null -> 0
    Case{"payload.str[0]", "null"},
    Case{"payload.empty_arr[0]", "null"},
    Case{"payload.nested.a.b.c[0]", "10"},
    Case{"payload.nested['a']['b'].c[1]", "20"},
    Case{"payload.map[1]", "null"},
    Case{"fromJSON('{\"1\":\"one\"}')[1]", "\"one\""},  // number index on object -> key '1'
    Case{"payload[payload.labels]", "null"}));          // non-primitive index

INSTANTIATE_TEST_SUITE_P(Filters, AccessCase, ::testing::Values(
    Case{"payload.labels.*.name", "[\"bug\",\"ui\"]"},   // missing members are skipped
    Case{"payload.labels[*].name", "[\"bug\",\"ui\"]"},
    Case{"payload.commits.*.author.name", "[\"A\",\"B\"]"},
    Case{"payload.workflow_run.pull_requests.*.head.ref", "[\"feat\",\"fix\"]"},
    Case{"payload.map.*.v", "[1,2]"},
    Case{"payload.map.*", "[{\"v\":1},{\"v\":2},{\"w\":3}]"},
    Case{"payload.nested.a.b.c.*", "[10,20,{\"d\":\"deep\"}]"},
    Case{"payload.nested.a.b.c.*.d", "[\"deep\"]"},
    Case{"payload.labels.*.*", "[\"bug\",\"ui\",\"red\"]"},  // star on a filter flattens
    Case{"payload.commits.*.id[0]", "[]"},                    // index applies per item
    Case{"payload.workflow_run.pull_requests.*[0]", "[]"},
    Case{"fromJSON('[[1,2],[3]]').*[0]", "[1,3]"},
    Case{"payload.empty_obj.*", "[]"},
    Case{"payload.empty_arr.*", "[]"},
    Case{"payload.str.*", "[]"},
    Case{"payload.missing.*", "[]"},
    Case{"payload.missing.*.x", "[]"},
    Case{"fromJSON('{\"x\":[{\"n\":\"a\"},{\"n\":\"b\"}]}').x.*.n", "[\"a\",\"b\"]"}));

TEST_F(PayloadTest, FilterResultsWorkWithFunctions) {
  EXPECT_EQ(eval_json("contains(payload.commits.*.id, 'B2')"), "true");
  EXPECT_EQ(eval_json("contains(payload.labels.*.name, 'feature')"), "false");
  EXPECT_EQ(eval_json("join(payload.labels.*.name, ', ')"), "\"bug, ui\"");
  EXPECT_EQ(eval_json("toJSON(payload.map.*.v)"), "\"[\\n  1,\\n  2\\n]\"");
}

TEST(Contexts, EachContextResolvesToItsScopeEntry) {
  auto ev = parse_json(R"({"id":"e1","type":"github.workflow_run","data":{"x":1}})");
  auto pl = parse_json(R"({"p":1})");
  auto me = parse_json(R"({"pipeline":"ci-alerts"})");
  auto en = parse_json(R"({"HOME":"/root"})");
  sx::Scope s{&ev, &pl, &me, &en};
  EXPECT_EQ(must_parse("event.type").evaluate(s).to_string(), "github.workflow_run");
  EXPECT_EQ(must_parse("event.data.x").evaluate(s).to_string(), "1");
  EXPECT_EQ(must_parse("payload.p").evaluate(s).to_string(), "1");
  EXPECT_EQ(must_parse("meta.pipeline").evaluate(s).to_string(), "ci-alerts");
  EXPECT_EQ(must_parse("env.HOME").evaluate(s).to_string(), "/root");
  EXPECT_EQ(must_parse("env.home").evaluate(s).to_string(), "/root");
}

TEST(Contexts, NullScopeEntriesAreNull) {
  sx::Scope s;
  EXPECT_TRUE(must_parse("event").evaluate(s).is_null());
  EXPECT_TRUE(must_parse("payload.a.b[0].c").evaluate(s).is_null());
  EXPECT_TRUE(must_parse("meta.x == null").evaluate_bool(s));
  EXPECT_FALSE(must_parse("env.x").evaluate_bool(s));
}

TEST(Contexts, UsesEventOnlyForTheEventContext) {
  EXPECT_TRUE(must_parse("event.type == 'x'").uses_event());
  EXPECT_TRUE(must_parse("payload.a || contains(EVENT.subject, 'x')").uses_event());
  EXPECT_FALSE(must_parse("payload.event").uses_event());  // a property named event
  EXPECT_FALSE(must_parse("payload.a == meta.b").uses_event());
  EXPECT_FALSE(must_parse("'event'").uses_event());
}

TEST(Contexts, BorrowedResultsPointIntoThePayload) {
  auto pl = parse_json(R"({"name":"zero-copy"})");
  sx::Scope s;
  s.payload = &pl;
  sx::Value v = must_parse("payload.name").evaluate(s);
  ASSERT_TRUE(v.is_string());
  EXPECT_EQ(v.string_value().data(), pl["name"].GetString());
}

}  // namespace
