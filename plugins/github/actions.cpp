#include "actions.hpp"

#include <algorithm>
#include <set>

#include "actions_api.hpp"
#include "common/json_limits.hpp"

namespace switchyard::github {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr OptionSpec kOptions[] = {
    {.name = "repositories", .type = OptionType::string_list, .required = true,
     .description = "Repositories whose workflow runs are polled, each as owner/repo.",
     .example = "[octo-org/app, octo-org/infra]"},
    {.name = "token", .type = OptionType::string,
     .description = "Token sent as Authorization: Bearer; needs read access to Actions (a "
                    "fine-grained token with Actions: read, or a GITHUB_TOKEN). Without one, "
                    "public repositories only and 60 requests an hour per IP.",
     .example = "${GITHUB_TOKEN}", .secret = true},
    {.name = "interval", .type = OptionType::duration, .default_value = "60s",
     .description = "Time between two polls of one repository. Each poll answered 200 costs "
                    "one request of the token's hourly budget; 304 (nothing changed) is free. "
                    "Each repository is also read once a day (GET /repos/{owner}/{repo}) for "
                    "repository.default_branch, which the runs API leaves out and the webhook has."},
    {.name = "jitter", .type = OptionType::duration, .default_value = "5s",
     .description = "A random 0 to jitter added to every wait (the first poll included), so "
                    "repositories and engines do not poll in step."},
    {.name = "base_url", .type = OptionType::string, .default_value = "https://api.github.com",
     .description = "API root; for GitHub Enterprise Server https://HOST/api/v3.",
     .example = "https://github.example.com/api/v3"},
    {.name = "per_page", .type = OptionType::integer, .default_value = "30",
     .description = "Most recent runs fetched per poll (1 to 100). More runs started between "
                    "two polls than this are missed: raise it or shorten interval."},
    {.name = "ca_file", .type = OptionType::string,
     .description = "PEM file of CAs to trust instead of the system store (private CAs)."},
    {.name = "timeout", .type = OptionType::duration, .default_value = "10s",
     .description = "Whole request, from connect to the last byte of the answer."},
    {.name = "remember", .type = OptionType::duration, .default_value = "7d",
     .description = "How long emitted run states are remembered in the state store, so a "
                    "restart emits nothing twice. Runs last updated longer ago are never emitted. "
                    "The first poll emits the current state of every listed run within it."},
};

// The API version whose response shape this file reads.
// https://docs.github.com/en/rest/about-the-rest-api/api-versions
constexpr const char* kApiVersion = "2022-11-28";
constexpr milliseconds kMaxBackoff = 15min;
// GitHub: without rate-limit headers, wait at least a minute after a secondary rate limit.
// https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
constexpr milliseconds kSecondaryLimitWait = 60s;
// The primary limit resets within the hour: a Reset further away is a wrong clock or header.
constexpr milliseconds kMaxHold = 65min;
// How often a repository's own record (its default branch) is read again; a failed read is
// tried again after kLookupRetry (or interval, if longer), the runs being polled meanwhile.
constexpr milliseconds kLookupRefresh = 24h;
constexpr milliseconds kLookupRetry = 15min;
// A run object is ~10 KB (it embeds two repositories): per_page 100 needs ~1 MB.
constexpr std::size_t kMaxResponseBytes = 8 * 1024 * 1024;

bool valid_repository(std::string_view name) {
  // GitHub owners are [A-Za-z0-9-], repository names add '.' and '_'.
  const auto slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size()) return false;
  const auto repo = name.substr(slash + 1);
  if (repo == "." || repo == ".." || repo.find('/') != std::string_view::npos) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || i == slash;
    if (!ok) return false;
  }
  return true;
}

std::string human(milliseconds d) {
  if (d < 1s) return std::to_string(d.count()) + "ms";
  const auto s = (d.count() + 999) / 1000;
  if (s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace

const ComponentDecl kActionsDecl{
    .kind = ComponentKind::source,
    .type = "github.actions",
    .summary = "Polls the Actions API for the workflow runs of listed repositories (ETag, "
               "rate limits honoured) and emits github.workflow_run.<action> like the "
               "webhook, once per run attempt and state.",
    .options = kOptions,
    .create = &make_component<ActionsSource>,
};

std::string ActionsSource::state_key(std::string_view run_id, std::string_view attempt,
                                     std::string_view state) {
  std::string key = "run/";
  key.append(run_id).append("/").append(attempt).append("/").append(state);
  return key;
}

Status ActionsSource::configure(const Options& options, Context& context) {
  context_ = &context;
  Settings& s = settings_;
  std::vector<std::string> errors;
  s.repositories = options.strings("repositories");
  if (s.repositories.empty()) errors.push_back("repositories: list at least one owner/repo");
  std::set<std::string> seen;
  for (const auto& name : s.repositories) {
    if (!valid_repository(name)) {
      errors.push_back("repositories: \"" + name + "\" is not of the form owner/repo");
    } else if (!seen.insert(name).second) {
      errors.push_back("repositories: \"" + name + "\" is listed twice");
    }
  }
  // A token read from a file usually ends with a newline; anything else odd would break
  // the header (and the message must not show it: it is a secret).
  s.token = std::string(trim(options.string("token")));
  if (std::any_of(s.token.begin(), s.token.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f;
      })) {
    errors.push_back("token: must not contain spaces or control characters");
  }
  s.base_url = std::string(options.string("base_url"));
  while (!s.base_url.empty() && s.base_url.back() == '/') s.base_url.pop_back();
  if ((s.base_url.rfind("http://", 0) != 0 && s.base_url.rfind("https://", 0) != 0) ||
      s.base_url.find_first_of("?# ") != std::string::npos) {
    errors.push_back("base_url: must be an http:// or https:// URL without query");
  }
  s.per_page = options.integer("per_page", 30);
  if (s.per_page < 1 || s.per_page > 100) errors.push_back("per_page: must be between 1 and 100");
  s.interval = options.duration("interval");
  if (s.interval < 1s) errors.push_back("interval: must be at least 1s");
  s.jitter = options.duration("jitter");
  s.remember = options.duration("remember");
  if (s.remember < s.interval) errors.push_back("remember: must be at least interval");
  const milliseconds timeout = options.duration("timeout");
  if (timeout <= 0ms) errors.push_back("timeout: must be more than 0");
  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "; ") + e;
    return invalid_config(std::move(message));
  }

  s.client.request_timeout = timeout;
  s.client.connect_timeout = std::min(timeout, s.client.connect_timeout);
  s.client.ca_file = std::string(options.string("ca_file"));
  s.client.max_response_bytes = kMaxResponseBytes;
  // A renamed or transferred repository answers 301 to its old name; GitHub asks API
  // clients to follow. The engine's client drops Authorization on a cross-host redirect.
  s.client.follow_redirects = true;
  repos_.clear();
  for (const auto& name : s.repositories) {
    Repo repo;
    repo.name = name;
    repo.url = s.base_url + "/repos/" + name + "/actions/runs?per_page=" + std::to_string(s.per_page);
    repo.lookup_url = s.base_url + "/repos/" + name;
    repos_.push_back(std::move(repo));
  }
  return {};
}

Status ActionsSource::start() {
  client_ = context_->http_client(settings_.client);
  running_ = true;
  for (std::size_t i = 0; i < repos_.size(); ++i) {
    repos_[i].timer = context_->executor().make_timer();
    schedule(i, 0ms);  // the jitter spreads the first polls
  }
  context_->logger().info("polling workflow runs of " + std::to_string(repos_.size()) +
                          " repositories every " + human(settings_.interval) +
                          (settings_.token.empty() ? " without a token" : ""));
  return {};
}

void ActionsSource::drain(std::function<void()> done) {
  running_ = false;
  for (auto& repo : repos_) {
    if (repo.timer) repo.timer->cancel();
    if (repo.lookup_timer) repo.lookup_timer->cancel();
  }
  done();
}

void ActionsSource::stop() {
  running_ = false;
  client_.reset();
  for (auto& repo : repos_) {
    repo.timer.reset();
    repo.lookup_timer.reset();
  }
  alive_.reset();
}

void ActionsSource::schedule(std::size_t index, milliseconds delay) {
  Repo& repo = repos_[index];
  repo.busy = false;
  if (!running_ || !repo.timer) return;
  const auto now = Clock::now();
  if (hold_until_ > now) delay = std::max(delay, std::chrono::ceil<milliseconds>(hold_until_ - now));
  if (settings_.jitter > 0ms) {
    delay += milliseconds(std::uniform_int_distribution<std::int64_t>(0, settings_.jitter.count())(random_));
  }
  repo.due = now + delay;
  repo.timer->expires_after(delay, [this, index] { poll(index); });
}

void ActionsSource::hold(Clock::time_point until, std::string_view why) {
  const auto now = Clock::now();
  until = std::min(until, now + kMaxHold);
  if (until <= now || until <= hold_until_) return;
  hold_until_ = until;
  context_->logger().warn(std::string(why) + "; no repository is polled for the next " +
                          human(std::chrono::ceil<milliseconds>(until - now)));
  // Repositories waiting on their timer would only collect the same refusal: push them back.
  for (std::size_t i = 0; i < repos_.size(); ++i) {
    if (!repos_[i].busy && repos_[i].due < until) schedule(i, 0ms);
  }
}

HttpClientRequest ActionsSource::api_request(const std::string& url) const {
  HttpClientRequest request;
  request.url = url;
  request.headers.set("Accept", "application/vnd.github+json");
  request.headers.set("X-GitHub-Api-Version", kApiVersion);
  request.headers.set("User-Agent", "switchyard");
  if (!settings_.token.empty()) request.headers.set("Authorization", "Bearer " + settings_.token);
  return request;
}

void ActionsSource::poll(std::size_t index) {
  if (!running_ || !client_) return;
  Repo& repo = repos_[index];
  repo.busy = true;
  if (repo.lookup_owed) return look_up(index);
  poll_runs(index);
}

// GET /repos/{owner}/{repo}, then the runs: the first poll and one a day cost one request more.
// https://docs.github.com/en/rest/repos/repos#get-a-repository
void ActionsSource::look_up(std::size_t index) {
  Repo& repo = repos_[index];
  ++lookups_;
  HttpClientRequest request = api_request(repo.lookup_url);
  if (!repo.lookup_etag.empty()) request.headers.set("If-None-Match", repo.lookup_etag);
  client_->send(std::move(request), [this, index, alive = std::weak_ptr<char>(alive_)](
                                        Result<HttpClientResponse> result) {
    if (alive.expired()) return;
    on_repository(index, std::move(result));
  });
}

void ActionsSource::on_repository(std::size_t index, Result<HttpClientResponse> result) {
  Repo& repo = repos_[index];
  if (!running_) {
    repo.busy = false;
    return;
  }
  const auto now = Clock::now();
  std::string why;
  if (!result) {
    why = result.error().message;
  } else if (const auto spent = spent_until(*result);
             spent && *spent > now && (result->status == 403 || result->status == 429)) {
    // The budget is spent: the runs would be refused too. Looked up again once it resets.
    hold(*spent, repo.name + ": HTTP " + std::to_string(result->status) + ", GitHub's rate limit is spent");
    return schedule(index, 0ms);
  } else if (result->status == 304) {
    look_up_again_in(index, kLookupRefresh);
    return poll_runs(index);
  } else if (result->status == 200) {
    rapidjson::Document doc;
    const bool parsed = static_cast<bool>(json_limits::parse(doc, result->body));
    const std::string_view branch = parsed ? string_of(member(doc, "default_branch")) : std::string_view();
    if (!branch.empty()) {
      repo.default_branch = std::string(branch);
      repo.lookup_etag = std::string(result->headers.get("ETag").value_or(""));
      look_up_again_in(index, kLookupRefresh);
      if (repo.told_lookup_failed) context_->logger().info(repo.name + ": its default branch is known again");
      repo.told_lookup_failed = false;
      return poll_runs(index);
    }
    why = "the answer has no default_branch";
  } else {
    why = "HTTP " + std::to_string(result->status) + github_message(*result);
  }
  // The runs are polled all the same; their events lack repository.default_branch (a filter
  // on it does not match) until a later lookup succeeds.
  const milliseconds retry = std::max(kLookupRetry, settings_.interval);
  look_up_again_in(index, retry);
  if (!repo.told_lookup_failed) {
    repo.told_lookup_failed = true;
    context_->logger().warn(repo.name + ": reading the repository failed (" + why + "); its runs are emitted " +
                            (repo.default_branch.empty() ? "without repository.default_branch"
                                                         : "with the default branch read before (" + repo.default_branch + ")") +
                            "; tried again in " + human(retry));
  }
  poll_runs(index);
}

void ActionsSource::look_up_again_in(std::size_t index, milliseconds delay) {
  Repo& repo = repos_[index];
  repo.lookup_owed = false;
  if (!repo.lookup_timer) repo.lookup_timer = context_->executor().make_timer();
  repo.lookup_timer->expires_after(delay, [this, index] { repos_[index].lookup_owed = true; });
}

void ActionsSource::poll_runs(std::size_t index) {
  if (!running_ || !client_) return;
  Repo& repo = repos_[index];
  ++polls_;
  HttpClientRequest request = api_request(repo.url);
  // A 304 to a conditional request does not count against the rate limit.
  if (!repo.etag.empty()) request.headers.set("If-None-Match", repo.etag);
  client_->send(std::move(request), [this, index, alive = std::weak_ptr<char>(alive_)](
                                        Result<HttpClientResponse> result) {
    if (alive.expired()) return;
    on_response(index, std::move(result));
  });
}

void ActionsSource::on_response(std::size_t index, Result<HttpClientResponse> result) {
  Repo& repo = repos_[index];
  if (!running_) {
    repo.busy = false;
    return;
  }
  if (!result) {
    // Certificates, oversized answers and redirect loops need an operator; the rest pass.
    const bool permanent = result.error().kind != ErrorKind::retryable;
    return failed(index, result.error().message, 0ms, permanent ? LogLevel::error : LogLevel::warn);
  }
  const HttpClientResponse& r = *result;
  const auto spent = spent_until(r);
  const auto now = Clock::now();
  if (r.status == 200 || r.status == 304) {
    if (spent) hold(*spent, "GitHub's rate limit is spent (last request: " + repo.name + ")");
    if (r.status == 200) return on_page(index, r);
    ++not_modified_;
    recovered(repo);
    return schedule(index, settings_.interval);
  }
  const auto retry_after = parse_retry_after(r.headers.get("Retry-After"));
  if (r.status == 403 || r.status == 429) {
    if (spent && *spent > now) {
      hold(*spent, repo.name + ": HTTP " + std::to_string(r.status) + ", GitHub's rate limit is spent");
      return schedule(index, 0ms);  // the hold puts it after the reset
    }
    if (retry_after && *retry_after > 0ms) {
      hold(now + *retry_after, repo.name + ": HTTP " + std::to_string(r.status) + " with Retry-After");
      return schedule(index, *retry_after);
    }
    // A secondary limit without headers (or a Reset already past: a skewed clock).
    if (r.status == 429 || spent || mentions_rate_limit(r.body)) {
      return failed(index, "HTTP " + std::to_string(r.status) + ", rate limited" + github_message(r),
                    kSecondaryLimitWait);
    }
    return refused(index, r);  // a plain 403: no access
  }
  if (r.status >= 500) {
    return failed(index, "HTTP " + std::to_string(r.status) + github_message(r),
                  retry_after.value_or(0ms));
  }
  refused(index, r);
}

void ActionsSource::on_page(std::size_t index, const HttpClientResponse& response) {
  auto page = std::make_shared<Page>();
  page->repo = index;
  // Depth-limited like webhook payloads: a reply of a million '[' would overflow the stack.
  const rapidjson::Value* runs = nullptr;
  if (json_limits::parse(page->doc, response.body)) runs = member(page->doc, "workflow_runs");
  if (runs == nullptr || !runs->IsArray()) {
    return failed(index, "the answer is not a list of workflow runs", 0ms);
  }
  recovered(repos_[index]);
  // GitHub lists newest first; emitting oldest first keeps each run's states in order.
  for (auto i = runs->Size(); i-- > 0;) page->runs.push_back(&(*runs)[i]);
  page->etag = std::string(response.headers.get("ETag").value_or(""));
  emit_next(page);
}

void ActionsSource::emit_next(const std::shared_ptr<Page>& page) {
  Emitter& emitter = context_->emitter();
  const auto cutoff = Clock::now() - settings_.remember;
  for (; page->next < page->runs.size(); ++page->next) {
    if (!running_) return finish(*page, false);
    const rapidjson::Value& run = *page->runs[page->next];
    const auto state = read_run(run);
    if (!state) continue;  // no id, or a status the webhook has no action for
    // Older than what is remembered: emitting it could repeat one emitted long ago.
    if (state->updated && *state->updated < cutoff) {
      ++page->too_old;
      continue;
    }
    std::string key = state_key(state->id, state->attempt, state->state);
    // Runs an earlier version recorded as entries (get()) count until they are forgotten.
    if (context_->state().remembers(key) || context_->state().get(key)) continue;
    if (emitter.saturated()) {
      // Stop here and keep the previous ETag: the next poll gets this page again.
      context_->logger().warn(repos_[page->repo].name +
                              ": pipeline saturated; the remaining runs wait for the next poll");
      return finish(*page, false);
    }
    auto event = make_run_event(run, *state, repos_[page->repo].default_branch);
    context_->logger().debug(repos_[page->repo].name + ": emitting " + event->id);
    // Remembered with the event, only once it is accepted: a refused event is emitted again
    // at the next poll, never lost, and no crash between the two repeats an accepted one.
    event->remember_when_accepted(std::move(key), settings_.remember);
    // The engine may report from another thread once the event is durable: continue on
    // the strand, and not at all once this component is stopped.
    emitter.emit(std::move(event), [this, page, alive = std::weak_ptr<char>(alive_),
                                    executor = &context_->executor()](Status status) mutable {
      executor->post([this, page, alive, status = std::move(status)] {
        if (alive.expired()) return;
        on_emitted(page, status);
      });
    });
    return;
  }
  finish(*page, true);
}

void ActionsSource::on_emitted(const std::shared_ptr<Page>& page, Status status) {
  if (!status) {
    const std::string line = repos_[page->repo].name + ": the pipeline refused an event (" +
                             status.error().message + "); it is emitted again at the next poll";
    if (running_) {
      context_->logger().warn(line);
    } else {
      context_->logger().debug(line);  // refused because the pipeline is stopping
    }
    return finish(*page, false);
  }
  ++emitted_;
  ++page->next;
  emit_next(page);
}

void ActionsSource::finish(const Page& page, bool complete) {
  Repo& repo = repos_[page.repo];
  if (complete) repo.etag = page.etag;
  if (page.too_old > 0 && !repo.told_too_old) {
    // Said once: a first poll lists old runs as a matter of course.
    repo.told_too_old = true;
    context_->logger().info(repo.name + ": " + std::to_string(page.too_old) + " run(s) last updated more than " +
                            human(settings_.remember) + " ago (remember) are not emitted");
  }
  schedule(page.repo, settings_.interval);
}

milliseconds ActionsSource::backoff(int failures) const {
  // interval · 2^failures, capped at 15 min (or interval, when that is longer).
  const milliseconds cap = std::max(kMaxBackoff, settings_.interval);
  milliseconds delay = settings_.interval;
  for (int i = 0; i < failures && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

void ActionsSource::failed(std::size_t index, const std::string& why, milliseconds at_least,
                           LogLevel level) {
  Repo& repo = repos_[index];
  ++repo.failures;
  repo.refused_status = 0;
  const milliseconds delay = std::max(backoff(repo.failures), at_least);
  const std::string line = repo.name + ": " + why + "; next poll in " + human(delay);
  // One warning per streak; the streak's end is logged by recovered().
  if (repo.failures == 1) {
    context_->logger().log(level, line + " (backing off while this lasts)");
  } else {
    context_->logger().debug(line);
  }
  schedule(index, delay);
}

void ActionsSource::refused(std::size_t index, const HttpClientResponse& response) {
  Repo& repo = repos_[index];
  repo.failures = 0;
  // The token or the repository name needs an operator; a config reload may fix it, so keep
  // polling at the normal pace, but say it once per streak.
  if (repo.refused_status != response.status) {
    repo.refused_status = response.status;
    std::string hint;
    switch (response.status) {
      case 401: hint = "the token is invalid or expired"; break;
      case 403: hint = "the token may not read this repository's Actions"; break;
      case 404: hint = "no such repository, or the token cannot see it"; break;
      default: break;
    }
    context_->logger().error(repo.name + ": GitHub answered HTTP " + std::to_string(response.status) +
                             github_message(response) + (hint.empty() ? "" : ": " + hint) +
                             "; still polling every " + human(settings_.interval));
  }
  schedule(index, settings_.interval);
}

void ActionsSource::recovered(Repo& repo) {
  if (repo.failures > 0 || repo.refused_status != 0) {
    context_->logger().info(repo.name + ": polling works again");
  }
  repo.failures = 0;
  repo.refused_status = 0;
}

}  // namespace switchyard::github
