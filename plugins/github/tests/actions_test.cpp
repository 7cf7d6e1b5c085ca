// github.actions run alone with the SDK's harness: the HTTP client is scripted and time is
// virtual (h.advance), so schedules and back-offs are asserted to the millisecond.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <switchyard/testing.hpp>

#include "actions.hpp"

namespace switchyard::github {
namespace {

using testing::Harness;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Answer = std::function<Result<HttpClientResponse>(const HttpClientRequest&)>;

constexpr const char* kOneRepo = R"({"repositories": ["octo-org/octo-repo"], "jitter": "0s"})";
constexpr const char* kRunsUrl = "https://api.github.com/repos/octo-org/octo-repo/actions/runs?per_page=30";
constexpr const char* kRepositoryUrl = "https://api.github.com/repos/octo-org/octo-repo";

// GitHub's time format: "2024-05-01T12:34:56Z".
std::string github_time(std::chrono::system_clock::time_point tp) {
  const std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

struct Run {
  std::uint64_t id = 30433642;
  std::string status = "completed";
  std::string conclusion = "success";  // "" writes null, as GitHub does until completion
  int attempt = 1;
  std::string branch = "main";
  std::chrono::system_clock::duration age = 2min;  // since updated_at
  bool triggering_actor = true;
};

// One entry of workflow_runs, shaped like the example of GitHub's "List workflow runs for a
// repository" (https://docs.github.com/en/rest/actions/workflow-runs), trimmed of the URL
// templates nobody reads.
std::string run_json(const Run& r) {
  static const std::string kTemplate = R"({
  "id": @ID, "name": "Build", "node_id": "MDEyOldvcmtmbG93IFJ1bjI2OTI4OQ==",
  "head_branch": "@BRANCH", "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
  "path": ".github/workflows/build.yml", "display_title": "Update README.md",
  "run_number": 562, "event": "push", "status": "@STATUS", "conclusion": @CONCLUSION,
  "workflow_id": 159038, "check_suite_id": 414944374,
  "url": "https://api.github.com/repos/octo-org/octo-repo/actions/runs/@ID",
  "html_url": "https://github.com/octo-org/octo-repo/actions/runs/@ID",
  "pull_requests": [], "created_at": "@CREATED", "updated_at": "@UPDATED",
  "actor": {"login": "octocat", "id": 1, "type": "User", "html_url": "https://github.com/octocat"},
  "run_attempt": @ATTEMPT, "run_started_at": "@CREATED",
  @TRIGGERING
  "jobs_url": "https://api.github.com/repos/octo-org/octo-repo/actions/runs/@ID/jobs",
  "logs_url": "https://api.github.com/repos/octo-org/octo-repo/actions/runs/@ID/logs",
  "workflow_url": "https://api.github.com/repos/octo-org/octo-repo/actions/workflows/159038",
  "head_commit": {"id": "acb5820ced9479c074f688cc328bf03f341a511d", "tree_id": "d23f6eedb1e1b9610bbc754ddb5197bfe7271223",
                  "message": "Create linter.yaml", "timestamp": "@CREATED",
                  "author": {"name": "Octo Cat", "email": "octocat@github.com"},
                  "committer": {"name": "GitHub", "email": "noreply@github.com"}},
  "repository": {"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": "octo-repo",
                 "full_name": "octo-org/octo-repo", "private": false,
                 "owner": {"login": "octo-org", "id": 2, "type": "Organization"},
                 "html_url": "https://github.com/octo-org/octo-repo",
                 "url": "https://api.github.com/repos/octo-org/octo-repo"},
  "head_repository": {"id": 1296269, "name": "octo-repo", "full_name": "octo-org/octo-repo",
                      "html_url": "https://github.com/octo-org/octo-repo"}
})";
  const auto updated = std::chrono::system_clock::now() - r.age;
  std::string json = kTemplate;
  json = replace_all(json, "@ID", std::to_string(r.id));
  json = replace_all(json, "@BRANCH", r.branch);
  json = replace_all(json, "@STATUS", r.status);
  json = replace_all(json, "@CONCLUSION", r.conclusion.empty() ? "null" : "\"" + r.conclusion + "\"");
  json = replace_all(json, "@CREATED", github_time(updated - 5min));
  json = replace_all(json, "@UPDATED", github_time(updated));
  json = replace_all(json, "@ATTEMPT", std::to_string(r.attempt));
  json = replace_all(json, "@TRIGGERING",
                     r.triggering_actor ? R"("triggering_actor": {"login": "hubot", "id": 3, "type": "User"},)" : "");
  return json;
}

// A 200 listing `runs` (newest first, as GitHub lists them).
HttpClientResponse page(const std::vector<Run>& runs, std::string etag = {}) {
  HttpClientResponse r;
  r.status = 200;
  r.body = R"({"total_count": )" + std::to_string(runs.size()) + R"(, "workflow_runs": [)";
  for (std::size_t i = 0; i < runs.size(); ++i) r.body += (i ? "," : "") + run_json(runs[i]);
  r.body += "]}";
  r.headers.set("Content-Type", "application/json; charset=utf-8");
  r.headers.set("X-RateLimit-Limit", "5000");
  r.headers.set("X-RateLimit-Remaining", "4987");
  if (!etag.empty()) r.headers.set("ETag", etag);
  return r;
}

HttpClientResponse answer(int status, std::string body = {}) {
  HttpClientResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// GET /repos/{owner}/{repo}, trimmed to what matters here
// (https://docs.github.com/en/rest/repos/repos#get-a-repository).
HttpClientResponse repository_answer(std::string default_branch = "main", std::string etag = "\"repo-1\"") {
  HttpClientResponse r;
  r.status = 200;
  r.body = R"({"id": 1296269, "name": "octo-repo", "full_name": "octo-org/octo-repo", "private": false,
              "owner": {"login": "octo-org", "id": 2, "type": "Organization"},
              "default_branch": ")" + default_branch + R"(", "visibility": "public"})";
  r.headers.set("Content-Type", "application/json; charset=utf-8");
  r.headers.set("X-RateLimit-Remaining", "4986");
  if (!etag.empty()) r.headers.set("ETag", etag);
  return r;
}

std::string epoch_in(std::chrono::seconds from_now) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                            (std::chrono::system_clock::now() + from_now).time_since_epoch())
                            .count());
}

// Runs as GitHub lists them: newest first, one per state.
const std::vector<Run> kThreeRuns = {
    {.id = 303, .status = "queued", .conclusion = "", .branch = "feature/x"},
    {.id = 302, .status = "in_progress", .conclusion = "", .triggering_actor = false},
    {.id = 301, .status = "completed", .conclusion = "failure", .branch = "release/1.2"},
};

// One component in a harness, its requests answered by `respond` and timed in virtual time.
class Poller {
 public:
  explicit Poller(std::string_view options = kOneRepo) : h(kActionsDecl, options) {
    h.respond_with([this](const HttpClientRequest& request) -> Result<HttpClientResponse> {
      if (request.url.find("/actions/") == std::string::npos) {  // the repository's own record
        lookup_times.push_back(h.executor().now());
        return repository(request);
      }
      times.push_back(h.executor().now());
      return respond(request);
    });
  }
  Poller(const Poller&) = delete;

  // Configures, starts and lets the first polls (jitter 0: at once) happen.
  void start() {
    ASSERT_TRUE(h.configure());
    ASSERT_TRUE(h.start());
    h.advance(0ms);
  }
  ActionsSource& source() { return h.component<ActionsSource>(); }
  std::vector<std::string> ids() {
    std::vector<std::string> out;
    for (const auto& e : h.emitted()) out.push_back(e->id);
    return out;
  }
  std::size_t log_lines(LogLevel level, std::string_view needle) {
    std::size_t n = 0;
    for (const auto& l : h.logs().lines) {
      if (l.level == level && l.message.find(needle) != std::string::npos) ++n;
    }
    return n;
  }

  Harness h;
  std::vector<milliseconds> times;         // of the requests for runs
  std::vector<milliseconds> lookup_times;  // of the requests for the repository
  Answer respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> { return page(kThreeRuns); };
  Answer repository = [](const HttpClientRequest&) -> Result<HttpClientResponse> { return repository_answer(); };
};

std::string configure_error(std::string_view options) {
  Harness h(kActionsDecl, options);
  auto status = h.configure();
  return status ? std::string("configured") : status.error().message;
}

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

// --- rate limits and back-off --------------------------------------------------------------

TEST(GithubActions, ASpentRateLimitDelaysTheNextRequestUntilTheReset) {
  Poller p;
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    if (p.times.size() > 1) return page(kThreeRuns);
    auto r = answer(403, R"({"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"})");
    r.headers.set("X-RateLimit-Limit", "5000");
    r.headers.set("X-RateLimit-Remaining", "0");
    r.headers.set("X-RateLimit-Reset", epoch_in(120s));
    return r;
  };
  p.start();
  EXPECT_TRUE(p.h.logs().contains("rate limit", LogLevel::warn));
  p.h.advance(118s);  // past the 60 s interval, still before the reset
  EXPECT_EQ(p.times.size(), 1u);
  EXPECT_TRUE(p.h.emitted().empty());
  p.h.advance(4s);
  ASSERT_EQ(p.times.size(), 2u);
  EXPECT_GE(p.times[1], 118s);
  EXPECT_EQ(p.h.emitted().size(), 3u);
}

TEST(GithubActions, ASpentRateLimitHoldsEveryRepository) {
  // The budget belongs to the token: the second repository does not poll into a certain 403.
  Poller p(R"({"repositories": ["octo-org/a", "octo-org/b"], "jitter": "0s"})");
  p.respond = [&](const HttpClientRequest& req) -> Result<HttpClientResponse> {
    if (p.times.size() > 1) return page({});
    EXPECT_NE(req.url.find("octo-org/a/"), std::string::npos);
    auto r = answer(429);
    r.headers.set("X-RateLimit-Remaining", "0");
    r.headers.set("X-RateLimit-Reset", epoch_in(300s));
    return r;
  };
  p.start();
  p.h.advance(298s);
  EXPECT_EQ(p.times.size(), 1u);
  p.h.advance(4s);
  EXPECT_EQ(p.times.size(), 3u);  // both, once the window has reset
}

TEST(GithubActions, HonoursRetryAfter) {
  Poller p;
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    if (p.times.size() > 1) return page({});
    auto r = answer(429, R"({"message": "You have exceeded a secondary rate limit."})");
    r.headers.set("Retry-After", "300");
    return r;
  };
  p.start();
  p.h.advance(299s);
  EXPECT_EQ(p.times.size(), 1u);
  p.h.advance(1s);
  EXPECT_EQ(p.times, (std::vector<milliseconds>{0ms, 300s}));
}

TEST(GithubActions, ASecondaryLimitWithoutHeadersWaitsAtLeastAMinute) {
  Poller p(R"({"repositories": ["octo-org/octo-repo"], "jitter": "0s", "interval": "10s"})");
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    if (p.times.size() > 1) return page({});
    return answer(403, R"({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."})");
  };
  p.start();
  p.h.advance(120s);
  ASSERT_GE(p.times.size(), 2u);
  EXPECT_EQ(p.times[1], 60s);
  EXPECT_EQ(p.log_lines(LogLevel::error, "octo-org"), 0u);  // not mistaken for missing access
}

TEST(GithubActions, ServerErrorsBackOffExponentiallyAndWarnOncePerStreak) {
  Poller p(R"({"repositories": ["octo-org/octo-repo"], "jitter": "0s", "interval": "10s"})");
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    if (p.times.size() <= 4) return answer(502, "<html>Bad Gateway</html>");
    return page({});
  };
  p.start();
  p.h.advance(310s);
  // 10 s · 2^n after each failure, then the normal interval once it answers again.
  EXPECT_EQ(p.times, (std::vector<milliseconds>{0ms, 20s, 60s, 140s, 300s, 310s}));
  EXPECT_EQ(p.log_lines(LogLevel::warn, "HTTP 502"), 1u);
  EXPECT_TRUE(p.h.logs().contains("polling works again", LogLevel::info));
}

TEST(GithubActions, BackOffIsCappedAtFifteenMinutes) {
  Poller p;  // interval 60 s
  p.respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> { return answer(503); };
  p.start();
  p.h.advance(3h);
  std::vector<milliseconds> gaps;
  for (std::size_t i = 1; i < p.times.size() && i <= 6; ++i) gaps.push_back(p.times[i] - p.times[i - 1]);
  EXPECT_EQ(gaps, (std::vector<milliseconds>{2min, 4min, 8min, 15min, 15min, 15min}));
}

TEST(GithubActions, NetworkErrorsBackOffToo) {
  Poller p;
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    if (p.times.size() > 1) return page(kThreeRuns);
    return retryable("connect 140.82.112.6:443: connection refused");
  };
  p.start();
  EXPECT_TRUE(p.h.logs().contains("connection refused", LogLevel::warn));
  p.h.advance(119s);
  EXPECT_EQ(p.times.size(), 1u);
  p.h.advance(1s);
  EXPECT_EQ(p.times.size(), 2u);
  EXPECT_EQ(p.h.emitted().size(), 3u);
}

TEST(GithubActions, ACertificateFailureIsAnErrorAndBacksOff) {
  Poller p;
  p.respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> {
    return permanent("TLS handshake with ghe.example.com: certificate verify failed");
  };
  p.start();
  p.h.advance(6min);
  EXPECT_EQ(p.times, (std::vector<milliseconds>{0ms, 2min, 6min}));
  EXPECT_EQ(p.log_lines(LogLevel::error, "certificate verify failed"), 1u);
}

TEST(GithubActions, AMalformedAnswerBacksOffLikeAServerError) {
  Poller p;
  p.respond = [](const HttpClientRequest&) -> Result<HttpClientResponse> {
    return answer(200, "<html>captive portal</html>");
  };
  p.start();
  p.h.advance(120s);
  EXPECT_EQ(p.times, (std::vector<milliseconds>{0ms, 120s}));
  EXPECT_TRUE(p.h.logs().contains("not a list of workflow runs", LogLevel::warn));
}

TEST(GithubActions, AnswersNestedTooDeepAreMalformedNotACrash) {
  // 2 MiB of '[': RapidJSON's recursive parse of that overflows a thread's stack.
  const std::string deep(std::size_t{2} << 20, '[');
  Poller p;
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    return answer(p.times.size() == 1 ? 200 : 401, deep);
  };
  p.repository = [&](const HttpClientRequest&) -> Result<HttpClientResponse> { return answer(200, deep); };
  p.start();
  p.h.advance(120s);
  EXPECT_TRUE(p.h.logs().contains("not a list of workflow runs", LogLevel::warn));
  EXPECT_EQ(p.log_lines(LogLevel::error, "octo-org/octo-repo: GitHub answered HTTP 401"), 1u);
  EXPECT_EQ(p.lookup_times.size(), 1u);
}

TEST(GithubActions, UnauthorizedOrNotFoundLogsAnErrorOnceAndKeepsPollingAtInterval) {
  Poller p;
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    if (p.times.size() <= 2) return answer(401, R"({"message": "Bad credentials"})");
    return answer(404, R"({"message": "Not Found"})");
  };
  p.start();
  p.h.advance(180s);
  EXPECT_EQ(p.times, (std::vector<milliseconds>{0ms, 60s, 120s, 180s}));
  EXPECT_EQ(p.log_lines(LogLevel::error, "octo-org/octo-repo: GitHub answered HTTP 401 (\"Bad credentials\")"), 1u);
  EXPECT_EQ(p.log_lines(LogLevel::error, "octo-org/octo-repo: GitHub answered HTTP 404"), 1u);
}

TEST(GithubActions, TheTokenIsSentAsBearerAndNeverLogged) {
  constexpr const char* kToken = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
  Poller p(std::string(R"({"repositories": ["octo-org/octo-repo"], "jitter": "0s", "token": ")") + kToken +
           "\\n\"}");
  p.respond = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    switch (p.times.size()) {
      case 1: return page(kThreeRuns);
      case 2: return answer(401, R"({"message": "Bad credentials"})");
      case 3: return answer(500);
      default: return retryable("timeout");
    }
  };
  p.start();
  p.h.advance(1h);
  ASSERT_GE(p.h.http_requests().size(), 4u);
  for (const auto& r : p.h.http_requests()) {
    EXPECT_EQ(r.headers.get("Authorization"), std::string("Bearer ") + kToken);  // newline trimmed
  }
  for (const auto& line : p.h.logs().lines) {
    EXPECT_EQ(line.message.find("ghp_"), std::string::npos) << line.message;
  }
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
