// Templates: typing rules, string rendering, JSON trees.
#include "expr_test_util.hpp"

namespace {

std::string to_text(const rapidjson::Value& v) {
  sx::Value w = sx::Value::make_json_ref(v);
  return w.to_json_string();
}

class TemplateTest : public PayloadTest {
 protected:
  // Renders typed and returns compact JSON of the result.
  std::string render_json(const sx::Template& t) {
    rapidjson::Document out;
    t.render(scope(), out, out.GetAllocator());
    return to_text(out);
  }
  std::string render_json(std::string_view text) { return render_json(must_compile(text)); }
  std::string render_str(std::string_view text) { return must_compile(text).render_string(scope()); }
};

TEST_F(TemplateTest, SingleExpressionKeepsItsType) {
  EXPECT_EQ(render_json("${{ payload.workflow_run.id }}"), "30433642");
  EXPECT_EQ(render_json("${{payload.t}}"), "true");
  EXPECT_EQ(render_json("  ${{ payload.t }}\n"), "true");  // whitespace around is allowed
  EXPECT_EQ(render_json("${{ payload.missing }}"), "null");
  EXPECT_EQ(render_json("${{ payload.workflow_run.actor }}"), "{\"login\":\"octocat\"}");
  EXPECT_EQ(render_json("${{ payload.labels.*.name }}"), "[\"bug\",\"ui\"]");
  EXPECT_EQ(render_json("${{ 1.5 }}"), "1.5");
  EXPECT_EQ(render_json("${{ 'text' }}"), "\"text\"");
  EXPECT_EQ(render_json("${{ fromJSON('{\"k\":[1]}') }}"), "{\"k\":[1]}");
}

TEST_F(TemplateTest, TypedIntegersStayIntegers) {
  rapidjson::Document out;
  must_compile("${{ payload.workflow_run.id }}").render(scope(), out, out.GetAllocator());
  ASSERT_TRUE(out.IsInt64());
  EXPECT_EQ(out.GetInt64(), 30433642);
  must_compile("${{ payload.big }}").render(scope(), out, out.GetAllocator());
  ASSERT_TRUE(out.IsUint64());
  EXPECT_EQ(out.GetUint64(), 12345678901234567890ull);
}

TEST_F(TemplateTest, MixedTextGivesAString) {
  EXPECT_EQ(render_json("Run ${{ payload.workflow_run.name }} #${{ payload.workflow_run.id }}"),
            "\"Run CI #30433642\"");
  EXPECT_EQ(render_json("x${{ payload.nul }}y"), "\"xy\"");                       // null -> ''
  EXPECT_EQ(render_json("${{ 1 }}${{ 2 }}"), "\"12\"");                            // two exprs -> string
  EXPECT_EQ(render_json("[${{ payload.t }}]"), "\"[true]\"");
  EXPECT_EQ(render_json("n=${{ 1e20 }}"), "\"n=1E+20\"");
  EXPECT_EQ(render_json("Labels: ${{ payload.labels.*.name }}"), "\"Labels: [\\\"bug\\\",\\\"ui\\\"]\"");
  EXPECT_EQ(render_json("$${{ 1 }}"), "\"$1\"");
  EXPECT_EQ(render_json("${{ 'a}}b' }} and ${{ 'it''s' }}"), "\"a}}b and it's\"");  // }} inside a string literal
  EXPECT_EQ(render_json("${{ 'x' }}}"), "\"x}\"");
}

TEST_F(TemplateTest, SingleBraceIsLiteralText) {
  for (const char* text : {"${VAR}", "$HOME and ${VAR:-x}", "{{ not }} an expression", "${ {x} }", "$ {{x}}", ""}) {
    sx::Template t = must_compile(std::string_view(text));
    EXPECT_TRUE(t.is_constant()) << text;
    EXPECT_EQ(t.render_string(scope()), text);
    EXPECT_EQ(render_json(t), sx::Value::make_string_ref(text).to_json_string());
  }
  EXPECT_EQ(render_str("price: ${VAR} ${{ 1.5 }}"), "price: ${VAR} 1.5");
  EXPECT_FALSE(must_compile(std::string_view("a ${{ 1 }}")).is_constant());
}

TEST_F(TemplateTest, RenderStringConvertsLikeGitHub) {
  EXPECT_EQ(render_str("${{ payload.workflow_run.id }}"), "30433642");
  EXPECT_EQ(render_str("${{ payload.missing }}"), "");
  EXPECT_EQ(render_str("${{ payload.t }}"), "true");
  EXPECT_EQ(render_str("${{ payload.workflow_run.actor }}"), "{\"login\":\"octocat\"}");
  EXPECT_EQ(render_str("${{ 0.1 }}"), "0.1");
  std::string buf = "prefix:";
  must_compile(std::string_view("${{ payload.action }}")).render_string(scope(), buf);
  EXPECT_EQ(buf, "prefix:completed");  // appends
}

TEST_F(TemplateTest, TreeTemplateYieldsTree) {
  auto tree = parse_json(R"({
    "title": "Run ${{ payload.workflow_run.name }} failed",
    "id": "${{ payload.workflow_run.id }}",
    "color": 15158332,
    "ok": "${{ payload.workflow_run.conclusion == 'success' }}",
    "actor": "${{ payload.workflow_run.actor }}",
    "fields": [{"name": "Branch", "value": "${{ payload.workflow_run.head_branch }}", "inline": true}],
    "const": {"a": [1, "${VAR}", null]},
    "weird key": "${{ payload.missing }}"
  })");
  sx::Template t = must_compile(tree);
  EXPECT_FALSE(t.is_constant());
  EXPECT_FALSE(t.uses_event());
  const std::string expected =
      R"({"title":"Run CI failed","id":30433642,"color":15158332,"ok":false,"actor":{"login":"octocat"},)"
      R"("fields":[{"name":"Branch","value":"main","inline":true}],"const":{"a":[1,"${VAR}",null]},)"
      R"("weird key":null})";
  EXPECT_EQ(render_json(t), expected);
  EXPECT_EQ(t.render_string(scope()), expected);  // trees render as compact JSON
}

TEST_F(TemplateTest, ConstantTreesAndScalars) {
  auto tree = parse_json(R"({"a": [1, 2.5, "x", true, null, {"b": "${NOT_AN_EXPR}"}]})");
  sx::Template t = must_compile(tree);
  EXPECT_TRUE(t.is_constant());
  EXPECT_EQ(render_json(t), R"({"a":[1,2.5,"x",true,null,{"b":"${NOT_AN_EXPR}"}]})");
  auto num = parse_json("5");
  EXPECT_EQ(render_json(must_compile(num)), "5");
  auto str = parse_json(R"("${{ payload.action }}")");
  EXPECT_EQ(render_json(must_compile(str)), "\"completed\"");
}

TEST_F(TemplateTest, UsesEvent) {
  EXPECT_TRUE(must_compile(std::string_view("x ${{ event.type }}")).uses_event());
  EXPECT_FALSE(must_compile(std::string_view("x ${{ payload.event }}")).uses_event());
  auto tree = parse_json(R"({"a": ["${{ payload.a }}", {"b": "${{ event.id }}"}]})");
  EXPECT_TRUE(must_compile(tree).uses_event());
}

TEST_F(TemplateTest, RenderedOutputOwnsItsStrings) {
  rapidjson::Document out;
  {
    auto pl = parse_json(R"({"name":"temporary string that is long enough to be heap allocated"})");
    sx::Scope s;
    s.payload = &pl;
    auto tree = parse_json(R"({"n": "${{ payload.name }}", "m": "<${{ payload.name }}>"})");
    sx::Template t = must_compile(tree);
    t.render(s, out, out.GetAllocator());
  }  // payload and template gone
  ASSERT_TRUE(out.IsObject());
  EXPECT_STREQ(out["n"].GetString(), "temporary string that is long enough to be heap allocated");
  EXPECT_STREQ(out["m"].GetString(), "<temporary string that is long enough to be heap allocated>");
}

TEST_F(TemplateTest, CompileAcceptsPlainStringsAndDocuments) {
  auto a = sx::Template::compile("n=${{ payload.workflow_run.id }}");  // const char*
  ASSERT_TRUE(a);
  EXPECT_EQ(a->render_string(scope()), "n=30433642");
  std::string text = "${{ payload.action }}";
  auto b = sx::Template::compile(text);  // std::string
  ASSERT_TRUE(b);
  EXPECT_EQ(b->render_string(scope()), "completed");
}

TEST_F(TemplateTest, OmitLeavesTheFieldOut) {
  // A Discord embed: no "url": null, no link to nowhere.
  auto tree = parse_json(R"({
    "title": "x",
    "url": "${{ payload.missing || omit() }}",
    "link": "https://example.com/${{ payload.missing || omit() }}",
    "kept": "${{ payload.missing }}",
    "list": ["${{ omit() }}", "a", "${{ iif(payload.t, omit(), 1) }}", "${{ 1 + 1 }}"],
    "footer": {"text": "${{ iif(payload.t, 'shown', omit()) }}", "icon_url": "${{ omit() }}"},
    "last": "${{ omit() }}"
  })");
  sx::Template t = must_compile(tree);
  const std::string expected = R"({"title":"x","kept":null,"list":["a",2],"footer":{"text":"shown"}})";
  EXPECT_EQ(render_json(t), expected);
  EXPECT_EQ(t.render_string(scope()), expected);
  auto first = parse_json(R"({"a": "${{ omit() }}", "b": ["${{ omit() }}"], "c": 1})");
  EXPECT_EQ(render_json(must_compile(first)), R"({"b":[],"c":1})");
  EXPECT_EQ(must_compile(first).render_string(scope()), R"({"b":[],"c":1})");
  // A whole option: null when typed, '' as text.
  EXPECT_EQ(render_json("${{ omit() }}"), "null");
  EXPECT_EQ(render_json("see ${{ omit() }}"), "null");
  EXPECT_EQ(render_str("see ${{ omit() }}"), "");
  EXPECT_EQ(render_json("${{ payload.action || omit() }}"), "\"completed\"");
}

TEST_F(TemplateTest, ListsTheEnvironmentVariablesItReads) {
  sx::Template t = must_compile(std::string_view("${{ env.STAGE }}/${{ env['REGION'] }}/${{ env[payload.x] }}"));
  ASSERT_EQ(t.env_references().size(), 2u);  // env[payload.x] cannot be known
  EXPECT_EQ(t.env_references()[0].name, "STAGE");
  EXPECT_EQ(t.env_references()[0].offset, 4u);
  EXPECT_EQ(t.env_references()[1].name, "REGION");
  EXPECT_EQ(t.env_references()[1].offset, 21u);
  auto tree = parse_json(R"({"a": {"b": ["x", "${{ payload.y || env.Fallback }}"]}})");
  sx::Template tt = must_compile(tree);
  ASSERT_EQ(tt.env_references().size(), 1u);
  EXPECT_EQ(tt.env_references()[0].name, "Fallback");
  EXPECT_EQ(tt.env_references()[0].path, "a.b[1]");
  EXPECT_EQ(tt.env_references()[0].offset, 17u);
  EXPECT_TRUE(must_compile(std::string_view("${{ env }} ${{ payload.env.x }}")).env_references().empty());
}

TEST_F(TemplateTest, CopiesShareTheCompiledProgram) {
  sx::Template a = must_compile(std::string_view("${{ payload.action }}!"));
  sx::Template b = a;             // cheap copy
  sx::Template c = std::move(a);  // move
  EXPECT_EQ(b.render_string(scope()), "completed!");
  EXPECT_EQ(c.render_string(scope()), "completed!");
}

}  // namespace
