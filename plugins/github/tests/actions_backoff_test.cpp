// github.actions under GitHub's rate limits and failures: how long it waits, how it backs
// off, and what it says, in virtual time (h.advance).
#include <gtest/gtest.h>

#include "actions_fixture.hpp"

namespace switchyard::github {
namespace {

using namespace actions_test;
using testing::Harness;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

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

}  // namespace
}  // namespace switchyard::github
