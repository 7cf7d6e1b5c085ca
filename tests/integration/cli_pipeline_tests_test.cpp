// `switchyard test` and `switchyard render` end to end: pipeline tests against the real
// pipeline, what each sink would send, and a component that throws.
#include "cli_fixture.hpp"

namespace switchyard {
namespace {

using namespace cli_test;

TEST_F(Cli, PipelineTestsReportADiffAndFailTheRun) {
  const std::string pipeline = std::string(SWITCHYARD_SOURCE_DIR) + "/pipelines/ci-failures.yaml";
  const auto file = dir_.write("broken.yaml", "pipeline: " + pipeline + R"(
cases:
  - name: expects the wrong status
    input:
      payload: {action: completed, workflow_run: {id: 1, name: CI, conclusion: failure, head_branch: main},
                repository: {full_name: o/r}}
    expect:
      alert:
        - payload_subset: {status: success, nope: 1}
          type: ci.build.failure
          that: ["${{ payload.external_id == 2 }}"]
  - name: expects nothing but gets an alert
    input:
      payload: {action: completed, workflow_run: {id: 2, conclusion: failure, head_branch: main}}
    expect:
      alert: []
  - name: names a sink the pipeline lacks
    input:
      payload: {action: completed, workflow_run: {id: 3, conclusion: success}}
    expect:
      alert: []
      nosuchsink: []
)");
  // The shipped pipeline reads $GITHUB_WEBHOOK_SECRET (with a default), as config/switchyard.yaml allows.
  auto r = run_to_end({kBinary, "test", "-c", config("env: {allow: [GITHUB_WEBHOOK_SECRET]}\n"), file.string()}, dir_);
  EXPECT_EQ(r.code, 1);
  const std::string f = file.string();
  EXPECT_NE(r.out.find("FAIL  " + f + ": expects the wrong status\n"
                       "      sink 'alert' event 1 differs:\n"
                       "        payload.status: expected \"success\", got \"failure\"\n"
                       "        payload.nope: missing (expected 1)\n"
                       "        that: \"${{ payload.external_id == 2 }}\" is false\n"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  " + f + ": expects nothing but gets an alert\n"
                       "      sink 'alert': expected 0 event(s), got 1\n"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find(f + ":22:7: cases[2].expect.nosuchsink: the pipeline has no sink named 'nosuchsink'"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n0 passed, 3 failed\n"), std::string::npos) << r.out;
}

TEST_F(Cli, PipelineTestsRefuseKeysTheyDoNotKnowAndConditionsWithTextAroundThem) {
  const std::string pipeline = std::string(SWITCHYARD_SOURCE_DIR) + "/pipelines/ci-failures.yaml";
  const std::string input = R"(
    input:
      payload: {action: completed, workflow_run: {id: 1, name: CI, conclusion: failure, head_branch: main},
                repository: {full_name: o/r}})";
  const auto file = dir_.write("typos.yaml", "pipeline: " + pipeline + R"(
cases:
  - name: a misspelt rendered checks nothing)" + input + R"(
    renderd: {alert: {body: {nothing: 1}}}
  - name: text around the condition would always be true)" + input + R"(
    expect:
      alert: [{that: ["${{ payload.external_id }} == 2"]}]
  - name: a sound case)" + input + R"(
    expect:
      alert: [{that: ["${{ payload.external_id == 1 }}"]}]
)");
  const auto config_file = config("env: {allow: [GITHUB_WEBHOOK_SECRET]}\n");
  auto r = run_to_end({kBinary, "test", "-c", config_file, file.string()}, dir_);
  EXPECT_EQ(r.code, 1);
  const std::string f = file.string();
  EXPECT_NE(r.out.find(f + ":7:5: cases[0].renderd: unknown key (a case has name, input or inputs, stubs, expect and "
                           "rendered)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("cases[1].expect.alert[0].that[0]: a condition is one ${{ expression }} with nothing around it"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n1 passed, 2 failed\n"), std::string::npos) << r.out;

  const auto top = dir_.write("top.yaml", "pipeline: " + pipeline + "\ncase:\n  - name: x\n");
  auto t = run_to_end({kBinary, "test", "-c", config_file, top.string()}, dir_);
  EXPECT_EQ(t.code, 1);
  EXPECT_NE((t.out + t.err).find("case: unknown key (a test file has pipeline, variables, stubs and cases)"),
            std::string::npos)
      << t.out << t.err;
}

TEST_F(Cli, PipelineTestsStubATransformThatNeedsWhatATestHasNot) {
  // The throwing transform stands for one that needs a database: stubbed, it sets what the
  // test says instead of running.
  dir_.write("p.yaml", R"(name: p
source: {type: generate}
transforms: [{type: test.throwing_transform}]
sinks:
  - {name: all, type: stdout}
)");
  const auto file = dir_.write("p.test.yaml", "pipeline: p.yaml\n" R"(stubs:
  test.throwing_transform: {meta: {rows: [{n: 1}]}}
cases:
  - name: the file's stub
    input: {payload: {boom: true}}
    expect:
      all: [{that: ["${{ meta.rows[0].n == 1 && payload.boom }}"]}]
  - name: the case's stub wins
    stubs:
      test.throwing_transform: {payload: {boom: false, found: yes}}
    input: {payload: {boom: true}}
    expect:
      all: [{payload: {boom: false, found: "yes"}}]
  - name: a stub that drops
    stubs: {test.throwing_transform: {drop: true}}
    input: {payload: {boom: true}}
    expect:
      all: []
  - name: a stub of a transform the pipeline lacks
    stubs: {postgres.query: {meta: {rows: []}}}
    input: {payload: {}}
    expect:
      all: []
  - name: a stub that is not a map of members
    stubs: {test.throwing_transform: {meta: 3}}
    input: {payload: {}}
    expect:
      all: []
)");
  const std::string paths = "plugins: {paths: [" + std::string(SWITCHYARD_PLUGIN_DIR) + ", " + kFixtures + "/faulty]}\n";
  auto r = run_to_end({kBinary, "test", "-c", config(paths), file.string()}, dir_);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  const std::string f = file.string();
  EXPECT_NE(r.out.find("PASS  " + f + ": the file's stub\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  " + f + ": the case's stub wins\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  " + f + ": a stub that drops\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  " + f + ": a stub of a transform the pipeline lacks\n      " + f +
                       ":21:13: cases[3].stubs.postgres.query: the pipeline has no transform named 'postgres.query' "
                       "(it has: test.throwing_transform)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("cases[4].stubs.test.throwing_transform: meta: expected a map of members to set"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n3 passed, 2 failed\n"), std::string::npos) << r.out;
}

TEST_F(Cli, PipelineTestsRunTheRealPipelineAndReportATransformThatThrows) {
  const auto pipeline = dir_.write("p.yaml", R"(name: p
source: {type: generate}
transforms: [{type: test.throwing_transform}]
sinks:
  - {name: main, type: stdout, if: "${{ payload.branch == 'main' }}"}
  - {name: all, type: stdout}
)");
  const auto file = dir_.write("p.test.yaml", "pipeline: p.yaml\n" R"(cases:
  - name: routes by if
    inputs:
      - payload: {branch: main}
      - payload: {branch: dev}
    expect:
      main: [{payload: {branch: main}}]
      all: [{payload: {branch: main}}, {payload: {branch: dev}}]
  - name: a transform that throws fails the case, not the run
    inputs:
      - payload: {boom: true}
      - payload: {branch: main}
    expect:
      all: [{payload: {branch: main}}]
)");
  const std::string paths = "plugins: {paths: [" + std::string(SWITCHYARD_PLUGIN_DIR) + ", " + kFixtures + "/faulty]}\n";
  auto r = run_to_end({kBinary, "test", "-c", config(paths), file.string()}, dir_);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS  " + file.string() + ": routes by if"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  " + file.string() + ": a transform that throws fails the case, not the run\n"
                       "      1 event(s) failed in a transform; the last: transforms[0] 'test.throwing_transform': "
                       "threw: boom in apply"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n1 passed, 1 failed\n"), std::string::npos) << r.out;
  (void)pipeline;
}

TEST_F(Cli, ATimerCallbackThatThrowsIsLoggedAndTheEngineGoesOn) {
  const auto out = dir_ / "events.jsonl";
  dir_.write("pipelines/good.yaml", "source: {type: generate, interval: 10ms}\n"
                                    "sinks: [{type: file, path: " + out.string() + "}]\n");
  dir_.write("pipelines/thrower.yaml", "source: {type: test.throwing_timer}\nsinks: [{type: stdout}]\n");
  const std::string paths = "plugins: {paths: [" + std::string(SWITCHYARD_PLUGIN_DIR) + ", " + kFixtures + "/faulty]}\n";
  test::Child engine({kBinary, "run", "-c", config(paths)}, dir_.path());
  ASSERT_TRUE(wait_until([&] { return engine.err().find("boom in timer") != std::string::npos; })) << engine.err();
  const auto before = lines(test::read_file(out)).size();
  ASSERT_TRUE(wait_until([&] { return lines(test::read_file(out)).size() >= before + 3; })) << engine.err();
  engine.signal(SIGTERM);
  ASSERT_EQ(engine.wait(), 0) << engine.err();
  EXPECT_NE(engine.err().find("source 'test.throwing_timer': a timer callback threw: boom in timer; it was dropped"),
            std::string::npos)
      << engine.err();
}

// Issue 21, tests of what is actually sent: a pipeline whose sinks template what they send,
// with a secret header from the environment and a secret webhook URL.
constexpr const char* kNotifyPipeline = R"(name: notify
source: {type: generate}
sinks:
  - name: hook
    type: http
    url: ${HOOK_URL}/builds/${{ payload.id }}
    headers: {Authorization: "Bearer ${TOKEN}", X-Ref: "${{ payload.ref }}"}
    body: {text: "Build ${{ payload.id }} ${{ payload.status }}", status: "${{ payload.status }}"}
  - name: chat
    type: discord.webhook
    if: ${{ payload.status == 'failed' }}
    url: ${DISCORD_WEBHOOK_URL}
    embeds: {title: "Build ${{ payload.id }} failed", color: "#D73A49"}
  - name: log
    type: blackhole
)";
constexpr const char* kNotifyAllow = "env: {allow: [HOOK_URL, TOKEN, DISCORD_WEBHOOK_URL]}\n";

TEST_F(Cli, PipelineTestsCheckWhatEachSinkWouldSend) {
  dir_.write("notify.yaml", kNotifyPipeline);
  const auto file = dir_.write("notify.test.yaml", R"(pipeline: notify.yaml
variables:
  HOOK_URL: https://hooks.example.test
  DISCORD_WEBHOOK_URL: https://discord.com/api/webhooks/1/test-token
cases:
  - name: renders the request and the embed
    input: {payload: {id: 7, status: failed, ref: main}}
    rendered:
      hook:
        method: POST
        url: https://hooks.example.test/builds/7
        headers: {authorization: Bearer env-secret-value, Content-Type: application/json}
        body: {text: Build 7 failed}
        body_contains: '"status":"failed"'
      chat:
        url: https://discord.com/api/webhooks/1/test-token
        body: {embeds: [{title: Build 7 failed, color: 14105161}]}
  - name: expects another text
    input: {payload: {id: 8, status: failed, ref: main}}
    rendered:
      hook:
        body: {text: Build 8 passed}
        headers: {X-Missing: x}
  - name: a sink that would refuse the event
    input: {payload: {id: 9, ref: "a\nb"}}
    rendered:
      hook: {error: holds a line break}
  - name: refused where a request was expected
    input: {payload: {id: 10, ref: "a\nb"}}
    rendered:
      hook: {body: {text: Build 10}}
  - name: asks what blackhole would send
    input: {payload: {id: 11}}
    rendered:
      log: {body: x}
)");
  // TOKEN comes from the environment; HOOK_URL from the environment too, but the file's wins.
  auto r = run_to_end({"/usr/bin/env", "TOKEN=env-secret-value", "HOOK_URL=https://real.example.com", kBinary, "test",
                       "-c", config(kNotifyAllow), file.string()},
                      dir_);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  const std::string f = file.string();
  EXPECT_NE(r.out.find("PASS  " + f + ": renders the request and the embed\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  " + f + ": a sink that would refuse the event\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  " + f + ": expects another text\n"
                       "      sink 'hook' rendered request 1 differs:\n"
                       "        body.text: expected \"Build 8 passed\", got \"Build 8 failed\"\n"
                       "        headers.X-Missing: missing (expected \"x\")\n"
                       "        rendered: POST https://hooks.example.test/builds/8\n"
                       "          Authorization: <redacted>\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("env-secret-value"), std::string::npos) << "a secret from the environment is never printed";
  EXPECT_NE(r.out.find("FAIL  " + f + ": refused where a request was expected\n"
                       "      sink 'hook' rendered request 1: the sink would fail: header X-Ref: the rendered value "
                       "holds a line break\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("cases[4].rendered.log: a blackhole sink cannot say what it would send, so rendered: cannot check "
                       "it (expect: checks what it receives)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n2 passed, 3 failed\n"), std::string::npos) << r.out;
}

TEST_F(Cli, RenderPrintsWhatEachSinkWouldSendWithSecretsRedacted) {
  const auto pipeline = dir_.write("notify.yaml", kNotifyPipeline);
  const auto input = dir_.write("run.json", R"({"type": "ci.build", "payload": {"id": 7, "status": "failed", "ref": "main"}})");
  const std::vector<std::string> command = {"/usr/bin/env", "TOKEN=env-secret-value",
                                            "DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/1/real-token",
                                            kBinary, "render", pipeline.string(), input.string(),
                                            "-c", config(kNotifyAllow), "--var", "HOOK_URL=https://hooks.example.test"};
  auto r = run_to_end(command, dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  ASSERT_FALSE(d.HasParseError()) << r.out;
  ASSERT_TRUE(d.IsArray() && d.Size() == 3) << r.out;
  const auto& hook = d[0];
  EXPECT_EQ(hook["sink"], "hook");
  EXPECT_EQ(hook["type"], "http");
  EXPECT_EQ(hook["method"], "POST");
  EXPECT_EQ(hook["url"], "https://hooks.example.test/builds/7");
  EXPECT_EQ(hook["headers"]["Authorization"], "<redacted>");
  EXPECT_EQ(hook["headers"]["X-Ref"], "<redacted>") << "every value of the secret headers option";
  EXPECT_EQ(hook["body"]["text"], "Build 7 failed") << "a JSON body is printed as JSON";
  const auto& chat = d[1];
  EXPECT_EQ(chat["sink"], "chat");
  EXPECT_EQ(chat["url"], "https://discord.com/<redacted>") << "the webhook URL is a secret option";
  EXPECT_EQ(chat["body"]["embeds"][0u]["color"].GetInt(), 14105161);
  EXPECT_EQ(d[2]["sink"], "log");
  EXPECT_EQ(d[2]["error"], "a blackhole sink cannot say what it would send");
  for (const char* secret : {"env-secret-value", "real-token"}) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << secret;
  }

  std::vector<std::string> shown = command;
  shown.push_back("--show-secrets");
  auto s = run_to_end(shown, dir_);
  ASSERT_EQ(s.code, 0) << s.err;
  d.Parse(s.out.c_str());
  ASSERT_FALSE(d.HasParseError()) << s.out;
  EXPECT_EQ(d[0]["headers"]["Authorization"], "Bearer env-secret-value");
  EXPECT_EQ(d[0]["headers"]["X-Ref"], "main");
  EXPECT_EQ(d[1]["url"], "https://discord.com/api/webhooks/1/real-token");

  // A bare payload of another type: the if: sends it to hook and log only.
  const auto bare = dir_.write("bare.json", R"({"id": 8, "status": "passed", "ref": "main"})");
  std::vector<std::string> bare_command = command;
  bare_command[6] = bare.string();
  auto b = run_to_end(bare_command, dir_);
  ASSERT_EQ(b.code, 0) << b.err;
  d.Parse(b.out.c_str());
  ASSERT_TRUE(!d.HasParseError() && d.IsArray() && d.Size() == 2) << b.out;
  EXPECT_EQ(d[0]["body"]["text"], "Build 8 passed");
  EXPECT_EQ(d[1]["sink"], "log");
}

TEST_F(Cli, RenderPrintsTheLinesOfStdoutAndFileTheAnswerOfReplyAndTheRoomsOfWebsocket) {
  const auto pipeline = dir_.write("local.yaml", R"(name: local
source: {type: http, path: /in}
sinks:
  - {name: out, type: stdout}
  - {name: log, type: file, path: /var/log/builds.jsonl, format: data}
  - {name: answer, type: reply, status: "201", body: {ok: "${{ payload.repo }}"}}
  - {name: live, type: websocket, path: /live, room: ["all", "${{ payload.repo }}"], data: {repo: "${{ payload.repo }}"}}
)");
  const auto input = dir_.write("in.json", R"({"payload": {"repo": "octo/x", "n": 1}})");
  auto r = run_to_end({kBinary, "render", pipeline.string(), input.string(), "-c", config("")}, dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  ASSERT_TRUE(!d.HasParseError() && d.IsArray() && d.Size() == 4) << r.out;
  EXPECT_EQ(d[0]["method"], "WRITE");
  EXPECT_EQ(d[0]["url"], "stdout");
  EXPECT_EQ(d[0]["body"]["specversion"], "1.0") << "the CloudEvent line";
  EXPECT_EQ(d[0]["body"]["data"]["repo"], "octo/x");
  EXPECT_EQ(d[1]["method"], "APPEND");
  EXPECT_EQ(d[1]["url"], "/var/log/builds.jsonl");
  EXPECT_EQ(d[1]["body"]["n"].GetInt(), 1) << "format: data writes the payload alone";
  EXPECT_FALSE(std::filesystem::exists("/var/log/builds.jsonl")) << "render writes nothing";
  EXPECT_EQ(d[2]["method"], "REPLY");
  EXPECT_EQ(d[2]["url"], "HTTP 201");
  EXPECT_EQ(d[2]["body"]["ok"], "octo/x");
  EXPECT_EQ(d[3]["method"], "PUBLISH");
  EXPECT_EQ(d[3]["url"], "/live rooms: all, octo/x");
  EXPECT_EQ(d[3]["body"]["data"]["repo"], "octo/x");
  EXPECT_FALSE(d[3]["body"]["data"].HasMember("n")) << "data: as configured";
}

TEST_F(Cli, DoubleDollarWritesALiteralExpressionOpenerInATemplate) {
  // A GitHub Actions snippet in a message: $${{ is the literal ${{, not an expression.
  const auto pipeline = dir_.write("snippet.yaml", R"(name: snippet
source: {type: http, path: /in}
sinks:
  - {name: answer, type: reply, text: "add $${{ secrets.TOKEN }} to ${{ payload.repo }}, and $${HOME} stays"}
)");
  const auto input = dir_.write("in.json", R"({"payload": {"repo": "octo/x"}})");
  auto r = run_to_end({kBinary, "render", pipeline.string(), input.string(), "-c", config("")}, dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  ASSERT_TRUE(!d.HasParseError() && d.IsArray() && d.Size() == 1) << r.out;
  EXPECT_STREQ(d[0]["body"].GetString(), "add ${{ secrets.TOKEN }} to octo/x, and ${HOME} stays");
}

TEST_F(Cli, RenderRefusesABadInputAndSaysWhatASinkWouldFailWith) {
  const auto pipeline = dir_.write("notify.yaml", kNotifyPipeline);
  const auto broken = dir_.write("broken.json", "{\"payload\": {\"id\": 7,}}");
  const std::vector<std::string> base = {"/usr/bin/env", "TOKEN=t", "DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/1/x",
                                         kBinary, "render", pipeline.string()};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = base;
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), {"-c", config(kNotifyAllow), "--var", "HOOK_URL=https://hooks.example.test"});
    return run_to_end(args, dir_);
  };
  auto bad = with({broken.string()});
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.out, "");
  EXPECT_EQ(bad.err, broken.string() + ": not valid JSON at offset 21: Missing a name for object member.\n");

  auto missing = with({(dir_ / "nope.json").string()});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err, (dir_ / "nope.json").string() + ": cannot read the input file\n");

  const auto refused = dir_.write("refused.json", R"({"payload": {"id": 9, "ref": "a\nb"}})");
  auto r = with({refused.string(), "--format", "text"});
  EXPECT_EQ(r.code, 1) << "the sink would dead-letter the event";
  EXPECT_NE(r.out.find("sink hook (http)\n  error: header X-Ref: the rendered value holds a line break\n"),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace switchyard
