// github.actions run alone with the SDK's harness: the HTTP client is scripted and time is
// virtual (h.advance), so schedules and back-offs are asserted to the millisecond.
#include <gtest/gtest.h>

#include "actions_fixture.hpp"

namespace switchyard::github {
namespace {

using namespace actions_test;
using testing::Harness;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

// --- events --------------------------------------------------------------------------

TEST(GithubActions, FirstPollEmitsEachRunStateOldestFirstLikeTheWebhook) {
  Poller p;
  p.start();
  ASSERT_EQ(p.times.size(), 1u);
  ASSERT_EQ(p.h.emitted().size(), 3u);
  EXPECT_EQ(p.ids(), (std::vector<std::string>{"actions:301:1:completed", "actions:302:1:in_progress",
                                               "actions:303:1:requested"}));
  const Event& done = *p.h.emitted()[0];
  EXPECT_EQ(done.type, "github.workflow_run.completed");
  EXPECT_EQ(done.source, "https://github.com/octo-org/octo-repo");
  EXPECT_EQ(done.subject, "release/1.2");
  EXPECT_STREQ(done.data["action"].GetString(), "completed");
  EXPECT_EQ(done.data["workflow_run"]["id"].GetUint64(), 301u);
  EXPECT_STREQ(done.data["workflow_run"]["conclusion"].GetString(), "failure");
  EXPECT_STREQ(done.data["repository"]["full_name"].GetString(), "octo-org/octo-repo");
  EXPECT_EQ(done.data["workflow"]["id"].GetInt64(), 159038);
  EXPECT_STREQ(done.data["workflow"]["name"].GetString(), "Build");
  EXPECT_STREQ(done.data["sender"]["login"].GetString(), "hubot");  // triggering_actor first
  EXPECT_STREQ(done.meta["x-github-event"].GetString(), "workflow_run");

  EXPECT_EQ(p.h.emitted()[1]->type, "github.workflow_run.in_progress");
  EXPECT_EQ(p.h.emitted()[1]->subject, "main");
  EXPECT_STREQ(p.h.emitted()[1]->data["sender"]["login"].GetString(), "octocat");  // actor
  EXPECT_EQ(p.h.emitted()[2]->type, "github.workflow_run.requested");  // from "queued"
  EXPECT_EQ(p.h.emitted()[2]->subject, "feature/x");
  EXPECT_EQ(p.source().emitted(), 3u);
}

TEST(GithubActions, RequestsCarryGitHubsHeaders) {
  Poller p;
  p.start();
  // The repository first (its default branch), then its runs.
  ASSERT_EQ(p.h.http_requests().size(), 2u);
  EXPECT_EQ(p.h.http_requests()[0].url, kRepositoryUrl);
  EXPECT_EQ(p.h.http_requests()[1].url, kRunsUrl);
  for (const HttpClientRequest& r : p.h.http_requests()) {
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.headers.get("Accept"), "application/vnd.github+json");
    EXPECT_EQ(r.headers.get("X-GitHub-Api-Version"), "2022-11-28");
    EXPECT_EQ(r.headers.get("User-Agent"), "switchyard");
    EXPECT_FALSE(r.headers.get("Authorization"));  // no token configured
    EXPECT_FALSE(r.headers.get("If-None-Match"));  // nothing seen yet
  }
}

TEST(GithubActions, TheSamePageAgainEmitsNothing) {
  Poller p;
  p.start();
  p.h.advance(60s);
  EXPECT_EQ(p.times, (std::vector<milliseconds>{0ms, 60s}));
  EXPECT_EQ(p.h.emitted().size(), 3u);
  EXPECT_EQ(p.source().polls(), 2u);
}

TEST(GithubActions, ARunThatCompletesEmitsOnceMore) {
  Poller p;
  p.start();
  auto runs = kThreeRuns;
  runs[1].status = "completed";
  runs[1].conclusion = "success";
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> { return page(runs); };
  p.h.advance(60s);
  ASSERT_EQ(p.h.emitted().size(), 4u);
  EXPECT_EQ(p.h.emitted()[3]->id, "actions:302:1:completed");
  EXPECT_EQ(p.h.emitted()[3]->type, "github.workflow_run.completed");
  p.h.advance(60s);
  EXPECT_EQ(p.h.emitted().size(), 4u);
}

TEST(GithubActions, AReRunIsANewAttemptAndEmitsAgain) {
  Poller p;
  p.start();
  auto runs = kThreeRuns;
  runs[2].status = "queued";
  runs[2].conclusion = "";
  runs[2].attempt = 2;
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> { return page(runs); };
  p.h.advance(60s);
  ASSERT_EQ(p.h.emitted().size(), 4u);
  EXPECT_EQ(p.h.emitted()[3]->id, "actions:301:2:requested");
  EXPECT_EQ(p.h.emitted()[3]->data["workflow_run"]["run_attempt"].GetInt(), 2);
}

TEST(GithubActions, StatusesWithoutAWebhookActionAndRunsWithoutIdAreSkipped) {
  Poller p;
  p.respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> {
    auto r = page({{.id = 2, .status = "something_new"}, {.id = 1, .status = "waiting", .conclusion = ""}});
    r.body.insert(r.body.find('[') + 1, R"({"status": "completed", "name": "no id"},)");
    return r;
  };
  p.start();
  EXPECT_EQ(p.ids(), (std::vector<std::string>{"actions:1:1:requested"}));  // waiting → requested
}

TEST(GithubActions, RunsLastUpdatedBeforeTheRememberWindowAreNotEmitted) {
  Poller p(R"({"repositories": ["octo-org/octo-repo"], "jitter": "0s", "remember": "7d"})");
  p.respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> {
    return page({{.id = 2, .age = 1h}, {.id = 1, .age = 8 * 24h}});
  };
  p.start();
  EXPECT_EQ(p.ids(), (std::vector<std::string>{"actions:2:1:completed"}));
  // Said at info, so an operator sees why an old run never arrives.
  EXPECT_EQ(p.log_lines(LogLevel::info, "octo-org/octo-repo: 1 run(s) last updated more than 7d ago"), 1u);
}

// --- conditional requests and the pipeline's back-pressure -------------------------------

TEST(GithubActions, SendsTheETagAsIfNoneMatchAndA304EmitsNothing) {
  Poller p;
  p.respond = [](const HttpClientRequest& r) -> Result<HttpClientResponse> {
    if (r.headers.get("If-None-Match") == "W/\"abc\"") return answer(304);
    return page(kThreeRuns, "W/\"abc\"");
  };
  p.start();
  ASSERT_EQ(p.h.emitted().size(), 3u);
  p.h.advance(60s);
  p.h.advance(60s);
  ASSERT_EQ(p.h.http_requests().size(), 4u);  // the repository once, the runs three times
  EXPECT_EQ(p.h.http_requests()[2].headers.get("If-None-Match"), "W/\"abc\"");
  EXPECT_EQ(p.h.http_requests()[3].headers.get("If-None-Match"), "W/\"abc\"");
  EXPECT_EQ(p.h.emitted().size(), 3u);
  EXPECT_EQ(p.source().not_modified(), 2u);
}

TEST(GithubActions, ASaturatedPipelineLosesNothingAndEmitsNothingTwice) {
  Poller p;
  p.respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> {
    return page(kThreeRuns, "\"etag-1\"");
  };
  p.h.emitter().capacity = 1;
  p.start();
  EXPECT_EQ(p.ids(), (std::vector<std::string>{"actions:301:1:completed"}));
  EXPECT_TRUE(p.h.logs().contains("saturated", LogLevel::warn));

  // The page was not emitted in full: its ETag is not kept, so the next poll sees it again.
  auto first = p.h.emitter().take();
  p.h.emitter().capacity = SIZE_MAX;
  p.h.advance(60s);
  ASSERT_EQ(p.h.http_requests().size(), 3u);  // the repository once, the runs twice
  EXPECT_FALSE(p.h.http_requests()[2].headers.get("If-None-Match"));
  EXPECT_EQ(p.ids(), (std::vector<std::string>{"actions:302:1:in_progress", "actions:303:1:requested"}));

  p.h.advance(60s);  // now it is kept
  EXPECT_EQ(p.h.http_requests()[3].headers.get("If-None-Match"), "\"etag-1\"");
  EXPECT_EQ(p.h.emitted().size(), 2u);
  EXPECT_EQ(p.h.emitter().refused, 0u);  // saturation is checked before emitting
}

// --- the repository's default branch --------------------------------------------------------

TEST(GithubActions, TheDefaultBranchIsReadOnceADayAndFilledInLikeTheWebhook) {
  Poller p;
  p.start();
  ASSERT_EQ(p.h.emitted().size(), 3u);
  for (const auto& e : p.h.emitted()) {
    EXPECT_STREQ(e->data["repository"]["default_branch"].GetString(), "main");
    EXPECT_STREQ(e->data["repository"]["full_name"].GetString(), "octo-org/octo-repo");  // the run's own, kept
  }
  p.h.advance(23h);
  EXPECT_EQ(p.lookup_times, std::vector<milliseconds>{0ms});  // not with every poll
  EXPECT_EQ(p.source().lookups(), 1u);
  EXPECT_GT(p.source().polls(), 1000u);

  // A day later it is read again, conditionally: 304 keeps what was read.
  p.repository = [](const HttpClientRequest& r) -> Result<HttpClientResponse> {
    if (r.headers.get("If-None-Match") == "\"repo-1\"") return answer(304);
    return repository_answer("trunk");
  };
  p.respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> {
    return page({{.id = 304, .status = "completed", .conclusion = "failure"}});
  };
  p.h.advance(1h + 60s);
  ASSERT_EQ(p.lookup_times.size(), 2u);
  ASSERT_EQ(p.h.emitted().size(), 4u);
  EXPECT_STREQ(p.h.emitted()[3]->data["repository"]["default_branch"].GetString(), "main");
}

TEST(GithubActions, AFailedLookupStillEmitsTheRunsAndIsTriedAgainLater) {
  Poller p;
  p.repository = [](const HttpClientRequest&) -> Result<HttpClientResponse> { return answer(502); };
  p.start();
  ASSERT_EQ(p.h.emitted().size(), 3u);
  EXPECT_FALSE(p.h.emitted()[0]->data["repository"].HasMember("default_branch"));
  EXPECT_EQ(p.log_lines(LogLevel::warn, "reading the repository failed (HTTP 502)"), 1u);
  p.h.advance(14min);
  EXPECT_EQ(p.lookup_times.size(), 1u);  // runs are polled meanwhile, the lookup waits
  EXPECT_EQ(p.times.size(), 15u);

  p.repository = [](const HttpClientRequest&) -> Result<HttpClientResponse> { return repository_answer("trunk"); };
  p.respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> {
    return page({{.id = 305, .status = "completed", .conclusion = "failure", .branch = "trunk"}});
  };
  p.h.advance(2min);
  EXPECT_EQ(p.lookup_times.size(), 2u);
  ASSERT_EQ(p.h.emitted().size(), 4u);
  EXPECT_STREQ(p.h.emitted()[3]->data["repository"]["default_branch"].GetString(), "trunk");
  EXPECT_EQ(p.log_lines(LogLevel::info, "default branch is known again"), 1u);
}

// --- lifecycle -----------------------------------------------------------------------------

TEST(GithubActions, EachRepositoryIsPolledOnItsOwnUrl) {
  Poller p(R"({"repositories": ["octo-org/a", "octo-org/b.js"], "jitter": "0s",
              "base_url": "https://ghe.example.com/api/v3/", "per_page": 100})");
  p.start();
  std::vector<std::string> urls;
  for (const auto& r : p.h.http_requests()) urls.push_back(r.url);
  std::sort(urls.begin(), urls.end());
  EXPECT_EQ(urls, (std::vector<std::string>{"https://ghe.example.com/api/v3/repos/octo-org/a",
                                            "https://ghe.example.com/api/v3/repos/octo-org/a/actions/runs?per_page=100",
                                            "https://ghe.example.com/api/v3/repos/octo-org/b.js",
                                            "https://ghe.example.com/api/v3/repos/octo-org/b.js/actions/runs?per_page=100"}));
}

TEST(GithubActions, ClientOptionsFollowTheConfiguration) {
  Poller p(R"({"repositories": ["octo-org/octo-repo"], "timeout": "5s", "ca_file": "/etc/ssl/ghe.pem"})");
  p.start();
  ASSERT_EQ(p.h.context().client_options.size(), 1u);
  const auto& o = p.h.context().client_options[0];
  EXPECT_EQ(o.request_timeout, 5s);
  EXPECT_LE(o.connect_timeout, 5s);
  EXPECT_EQ(o.ca_file, "/etc/ssl/ghe.pem");
  EXPECT_TRUE(o.follow_redirects);  // renamed repositories answer 301
}

TEST(GithubActions, JitterDelaysEveryWaitByAtMostJitter) {
  Poller p(R"({"repositories": ["octo-org/octo-repo"], "jitter": "5s"})");
  p.respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> { return answer(304); };
  ASSERT_TRUE(p.h.configure());
  ASSERT_TRUE(p.h.start());
  for (int i = 0; i < 20 * 65; ++i) p.h.advance(1s);
  ASSERT_GE(p.times.size(), 19u);
  EXPECT_LE(p.times[0], 5s);
  for (std::size_t i = 1; i < p.times.size(); ++i) {
    EXPECT_GE(p.times[i] - p.times[i - 1], 60s);
    EXPECT_LE(p.times[i] - p.times[i - 1], 65s);
  }
}

TEST(GithubActions, EmittedStatesAreRememberedForTheConfiguredTime) {
  Poller p(R"({"repositories": ["octo-org/octo-repo"], "jitter": "0s", "remember": "2h"})");
  p.start();
  auto& state = p.h.context().state();
  EXPECT_TRUE(state.remembers(ActionsSource::state_key("301", "1", "completed")));
  EXPECT_TRUE(state.remembers(ActionsSource::state_key("303", "1", "requested")));
  EXPECT_FALSE(state.remembers(ActionsSource::state_key("303", "1", "completed")));
  p.respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> { return answer(304); };
  p.h.advance(2h);
  EXPECT_FALSE(state.remembers(ActionsSource::state_key("301", "1", "completed")));
}

TEST(GithubActions, ARestartEmitsOnlyWhatChangedMeanwhile) {
  // A restarted engine is a new component reading the same state store. The harness owns
  // its store and cannot share it, so the second harness is given what the first
  // remembered: for each event it emitted, the key is checked in the first store (proving
  // it is there) and remembered in the second one. One of them goes in as an entry, as an
  // earlier version stored it (put "1"): that still counts as emitted.
  Poller before;
  before.start();
  ASSERT_EQ(before.h.emitted().size(), 3u);

  Poller after;
  bool as_entry = true;
  for (const auto& id : before.ids()) {  // "actions:<run>:<attempt>:<state>"
    const auto a = id.find(':', 8), b = id.find(':', a + 1);
    const auto key = ActionsSource::state_key(id.substr(8, a - 8), id.substr(a + 1, b - a - 1), id.substr(b + 1));
    ASSERT_TRUE(before.h.context().state().remembers(key)) << key;
    ASSERT_TRUE(as_entry ? after.h.context().state().put(key, "1", 7 * 24h)
                         : after.h.context().state().remember(key, 7 * 24h));
    as_entry = false;
  }
  auto runs = kThreeRuns;
  runs[0].status = "in_progress";  // 303 started while the engine was down
  after.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> { return page(runs); };
  after.start();
  EXPECT_EQ(after.ids(), (std::vector<std::string>{"actions:303:1:in_progress"}));
}

TEST(GithubActions, DrainStopsPollingAndIgnoresAnAnswerInFlight) {
  Poller p;
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    p.source().drain([] {});  // the answer arrives after the drain began
    return page(kThreeRuns);
  };
  p.start();
  EXPECT_TRUE(p.h.emitted().empty());
  p.h.advance(1h);
  EXPECT_EQ(p.times.size(), 1u);
  p.h.stop();
}

TEST(GithubActions, AFailureArrivingAfterTheDrainIsNotReported) {
  Poller p;
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    p.source().drain([] {});
    return answer(502);
  };
  p.start();
  EXPECT_FALSE(p.h.logs().contains("502"));
  p.h.advance(1h);
  EXPECT_EQ(p.times.size(), 1u);
}

TEST(GithubActions, StopCancelsEverythingAndNothingCallsBack) {
  Poller p;
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    // Queued before the client's answer: stop() runs while the answer is still pending.
    p.h.executor().post([&] { p.source().stop(); });
    return page(kThreeRuns);
  };
  p.start();
  EXPECT_TRUE(p.h.emitted().empty());
  p.h.advance(1h);
  EXPECT_EQ(p.times.size(), 1u);
  EXPECT_EQ(p.h.executor().pending_timers(), 0u);
}

TEST(GithubActions, StopBeforeTheFirstPollSendsNothing) {
  Poller p;
  ASSERT_TRUE(p.h.configure());
  ASSERT_TRUE(p.h.start());
  p.h.stop();
  p.h.advance(1h);
  EXPECT_TRUE(p.times.empty());
}

// --- configuration -------------------------------------------------------------------------

TEST(GithubActionsConfig, RepositoriesMustBeOwnerSlashRepo) {
  EXPECT_EQ(configure_error(R"({"repositories": ["octo-org/octo-repo", "octo-org/.github", "a/b_c.d-e"]})"),
            "configured");
  for (const char* bad : {"octo-org", "octo-org/", "/octo-repo", "octo-org/app/extra", "octo org/app",
                          "octo-org/..", "https://github.com/octo-org/app"}) {
    const auto message = configure_error(std::string(R"({"repositories": [")") + bad + "\"]}");
    EXPECT_NE(message.find(std::string("repositories: \"") + bad + "\" is not of the form owner/repo"),
              std::string::npos)
        << message;
  }
  EXPECT_NE(configure_error(R"({"repositories": ["a/b", "a/b"]})").find("listed twice"), std::string::npos);
  EXPECT_NE(configure_error(R"({})").find("repositories: required"), std::string::npos);
  EXPECT_NE(configure_error(R"({"repositories": []})").find("at least one"), std::string::npos);
}

TEST(GithubActionsConfig, PerPageMustBeBetween1And100) {
  for (const char* n : {"0", "101", "-5"}) {
    const auto message = configure_error(std::string(R"({"repositories": ["a/b"], "per_page": )") + n + "}");
    EXPECT_NE(message.find("per_page: must be between 1 and 100"), std::string::npos) << message;
  }
  EXPECT_EQ(configure_error(R"({"repositories": ["a/b"], "per_page": 100})"), "configured");
}

TEST(GithubActionsConfig, OtherOptionsAreCheckedAndAllErrorsReportedTogether) {
  const auto message = configure_error(
      R"({"repositories": ["nope"], "base_url": "api.github.com", "interval": "0", "per_page": 0,
          "token": "two words"})");
  EXPECT_NE(message.find("repositories:"), std::string::npos) << message;
  EXPECT_NE(message.find("base_url: must be an http:// or https:// URL"), std::string::npos) << message;
  EXPECT_NE(message.find("interval: must be at least 1s"), std::string::npos) << message;
  EXPECT_NE(message.find("per_page:"), std::string::npos) << message;
  EXPECT_NE(message.find("token: must not contain spaces"), std::string::npos) << message;
  EXPECT_EQ(message.find("two words"), std::string::npos) << message;  // a secret is never shown
}

}  // namespace
}  // namespace switchyard::github
