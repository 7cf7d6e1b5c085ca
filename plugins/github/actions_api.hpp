#pragma once
// Reading GitHub's Actions REST API for the `github.actions` source: run objects and the
// workflow_run event made from one, timestamps, and what an answer says about rate limits
// and errors.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/switchyard.hpp"

namespace switchyard::github {

/// `s` without the spaces, tabs and line breaks around it.
std::string_view trim(std::string_view s);

/// The action a run's status maps to, as the workflow_run webhook names it; "" when unknown.
std::string_view run_state(std::string_view status);

/// `v[name]` when `v` is an object that has it and it is not null.
const rapidjson::Value* member(const rapidjson::Value& v, const char* name);
/// The string `v` holds; "" for anything else (or none).
std::string_view string_of(const rapidjson::Value* v);
/// An unsigned integer's digits; "" for anything else.
std::string number_text(const rapidjson::Value* v);

/// When the primary rate limit resets, if this answer says it is spent.
std::optional<std::chrono::system_clock::time_point> spent_until(const HttpClientResponse& r);
/// GitHub's own words from an error body, shortened and quoted: ` ("Bad credentials")`.
std::string github_message(const HttpClientResponse& r);
/// Whether an answer's body speaks of a rate limit (secondary limits answer 403 so).
bool mentions_rate_limit(std::string_view body);

/// What one entry of workflow_runs names: the run, its attempt and its state.
struct RunState {
  std::string id;
  std::string attempt;
  std::string_view state;
  std::optional<std::chrono::system_clock::time_point> updated;
};
/// nullopt when the run has no id or an unknown status.
std::optional<RunState> read_run(const rapidjson::Value& run);

/// The payload of the workflow_run webhook, rebuilt from the run object, which embeds the
/// repository and the actors: the events are indistinguishable downstream.
std::unique_ptr<Event> make_run_event(const rapidjson::Value& run, const RunState& r,
                                      std::string_view default_branch);

}  // namespace switchyard::github
