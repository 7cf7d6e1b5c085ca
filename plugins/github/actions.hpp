#pragma once
// `github.actions` source: polls the Actions API for the workflow runs of listed
// repositories and emits the same github.workflow_run.<action> events as the webhook, once
// per run attempt and state. For repositories whose webhooks you cannot configure.

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/switchyard.hpp"

namespace switchyard::github {

extern const ComponentDecl kActionsDecl;

class ActionsSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void drain(std::function<void()> done) override;
  void stop() override;

  /// The state-store key that records that a run attempt's state was emitted.
  static std::string state_key(std::string_view run_id, std::string_view attempt,
                               std::string_view state);

  /// Requests for workflow runs sent so far, all repositories together.
  std::uint64_t polls() const { return polls_; }
  /// Requests for the repositories themselves (their default branch) sent so far.
  std::uint64_t lookups() const { return lookups_; }
  /// 304 Not Modified answers so far.
  std::uint64_t not_modified() const { return not_modified_; }
  /// Events the pipeline accepted so far.
  std::uint64_t emitted() const { return emitted_; }

 private:
  using Clock = std::chrono::system_clock;

  struct Settings {
    std::vector<std::string> repositories;  // "owner/repo"
    std::string token;
    std::string base_url;  // without a trailing '/'
    std::chrono::milliseconds interval{0};
    std::chrono::milliseconds jitter{0};
    std::chrono::milliseconds remember{0};
    std::int64_t per_page = 30;
    HttpClientOptions client;
  };
  // One polled repository, with its own schedule.
  struct Repo {
    std::string name;  // "owner/repo"
    std::string url;
    std::string etag;  // of the last page emitted in full
    // The repository's own record (GET /repos/{owner}/{repo}), read once a day: the runs
    // API embeds a minimal repository without default_branch, which the webhook has.
    std::string lookup_url;
    std::string default_branch;       // empty until read
    std::string lookup_etag;
    bool lookup_owed = true;          // read it before the next poll of runs
    std::unique_ptr<Timer> lookup_timer;  // sets lookup_owed again (a day, or after a failure)
    bool told_lookup_failed = false;  // a failed lookup was logged (once per streak)
    std::unique_ptr<Timer> timer;
    Clock::time_point due{};  // when the timer fires
    bool busy = false;        // a request or its page is in progress: the timer is idle
    int failures = 0;         // consecutive 5xx, network and secondary-limit failures
    int refused_status = 0;   // the 4xx last logged, so a streak logs once
    bool told_too_old = false;  // runs older than `remember` were reported once
  };
  // A 200 page whose new run states are being emitted, one at a time.
  struct Page {
    std::size_t repo = 0;
    rapidjson::Document doc;
    std::vector<const rapidjson::Value*> runs;  // oldest first
    std::size_t next = 0;
    std::size_t too_old = 0;  // runs skipped as last updated before `remember`
    std::string etag;
  };

  void poll(std::size_t index);
  void poll_runs(std::size_t index);
  void look_up(std::size_t index);
  void on_repository(std::size_t index, Result<HttpClientResponse> result);
  void look_up_again_in(std::size_t index, std::chrono::milliseconds delay);
  HttpClientRequest api_request(const std::string& url) const;
  void on_response(std::size_t index, Result<HttpClientResponse> result);
  void on_page(std::size_t index, const HttpClientResponse& response);
  void emit_next(const std::shared_ptr<Page>& page);
  void on_emitted(const std::shared_ptr<Page>& page, Status status);
  void finish(const Page& page, bool complete);
  void failed(std::size_t index, const std::string& why, std::chrono::milliseconds at_least,
              LogLevel level = LogLevel::warn);
  void refused(std::size_t index, const HttpClientResponse& response);
  void recovered(Repo& repo);
  void hold(Clock::time_point until, std::string_view why);
  void schedule(std::size_t index, std::chrono::milliseconds delay);
  std::chrono::milliseconds backoff(int failures) const;

  Settings settings_;
  Context* context_ = nullptr;
  std::unique_ptr<HttpClient> client_;
  std::vector<Repo> repos_;
  // GitHub's rate limits belong to the token (or the IP without one), not to a repository:
  // once one answer says the budget is spent, no repository polls before this.
  Clock::time_point hold_until_{};
  std::mt19937_64 random_{std::random_device{}()};
  bool running_ = false;
  // Handlers that may run after stop() (posted HTTP and emit callbacks) hold a weak_ptr to
  // this and do nothing once it has expired.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  std::uint64_t polls_ = 0;
  std::uint64_t lookups_ = 0;
  std::uint64_t not_modified_ = 0;
  std::uint64_t emitted_ = 0;
};

}  // namespace switchyard::github
