#pragma once
// What the github.actions tests share: GitHub's run and repository answers, and Poller, one
// source in a harness whose HTTP client is scripted and whose time is virtual.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <switchyard/testing.hpp>

#include "actions.hpp"

namespace switchyard::github::actions_test {

using testing::Harness;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Answer = std::function<Result<HttpClientResponse>(const HttpClientRequest&)>;

inline constexpr const char* kOneRepo = R"({"repositories": ["octo-org/octo-repo"], "jitter": "0s"})";
inline constexpr const char* kRunsUrl = "https://api.github.com/repos/octo-org/octo-repo/actions/runs?per_page=30";
inline constexpr const char* kRepositoryUrl = "https://api.github.com/repos/octo-org/octo-repo";

// GitHub's time format: "2024-05-01T12:34:56Z".
inline std::string github_time(std::chrono::system_clock::time_point tp) {
  const std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

inline std::string replace_all(std::string text, std::string_view from, std::string_view to) {
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
inline std::string run_json(const Run& r) {
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
inline HttpClientResponse page(const std::vector<Run>& runs, std::string etag = {}) {
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

inline HttpClientResponse answer(int status, std::string body = {}) {
  HttpClientResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// GET /repos/{owner}/{repo}, trimmed to what matters here
// (https://docs.github.com/en/rest/repos/repos#get-a-repository).
inline HttpClientResponse repository_answer(std::string default_branch = "main", std::string etag = "\"repo-1\"") {
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

inline std::string epoch_in(std::chrono::seconds from_now) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                            (std::chrono::system_clock::now() + from_now).time_since_epoch())
                            .count());
}

// Runs as GitHub lists them: newest first, one per state.
inline const std::vector<Run> kThreeRuns = {
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

inline std::string configure_error(std::string_view options) {
  Harness h(kActionsDecl, options);
  auto status = h.configure();
  return status ? std::string("configured") : status.error().message;
}

}  // namespace switchyard::github::actions_test
