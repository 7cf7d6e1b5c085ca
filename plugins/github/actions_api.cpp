#include "actions_api.hpp"

#include <charconv>

#include "common/json_limits.hpp"
#include "github_event.hpp"
#include "switchyard/time.hpp"

namespace switchyard::github {
namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// The action a run's status maps to, as the workflow_run webhook names it; "" when unknown.
// https://docs.github.com/en/webhooks/webhook-events-and-payloads#workflow_run
std::string_view run_state(std::string_view status) {
  if (status == "queued" || status == "requested" || status == "waiting" || status == "pending") {
    return "requested";
  }
  if (status == "in_progress") return "in_progress";
  if (status == "completed") return "completed";
  return {};
}

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

std::string_view string_of(const rapidjson::Value* v) {
  return v != nullptr && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength())
                                       : std::string_view();
}

std::string number_text(const rapidjson::Value* v) {
  if (v != nullptr && v->IsUint64()) return std::to_string(v->GetUint64());
  return {};
}

// When the primary rate limit resets, if this answer says it is spent.
// https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
std::optional<std::chrono::system_clock::time_point> spent_until(const HttpClientResponse& r) {
  const auto remaining = r.headers.get("X-RateLimit-Remaining");
  const auto reset = r.headers.get("X-RateLimit-Reset");
  std::int64_t epoch = 0;
  if (!remaining || trim(*remaining) != "0" || !reset || !parse_number(trim(*reset), epoch)) {
    return std::nullopt;
  }
  return time_from_unix_seconds(epoch);
}

// GitHub's own words from an error body ({"message": "Bad credentials", ...}), shortened.
std::string github_message(const HttpClientResponse& r) {
  rapidjson::Document doc;
  if (!json_limits::parse(doc, r.body)) return {};
  std::string text(string_of(member(doc, "message")).substr(0, 200));
  return text.empty() ? text : " (\"" + text + "\")";
}

bool mentions_rate_limit(std::string_view body) {
  std::string lower(body.substr(0, 4096));
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower.find("rate limit") != std::string::npos;
}

std::optional<RunState> read_run(const rapidjson::Value& run) {
  RunState r;
  r.id = number_text(member(run, "id"));
  r.state = run_state(string_of(member(run, "status")));
  if (r.id.empty() || r.state.empty()) return std::nullopt;
  r.attempt = number_text(member(run, "run_attempt"));
  if (r.attempt.empty()) r.attempt = "1";  // older Enterprise Server versions lack run_attempt
  r.updated = parse_rfc3339(string_of(member(run, "updated_at")));
  return r;
}

// The payload of the workflow_run webhook, rebuilt from the run object, which embeds the
// repository and the actors: the events are indistinguishable downstream.
std::unique_ptr<Event> make_run_event(const rapidjson::Value& run, const RunState& r,
                                      std::string_view default_branch) {
  auto event = std::make_unique<Event>();
  auto& a = event->allocator();
  rapidjson::Value& data = event->data.SetObject();
  data.AddMember("action", rapidjson::Value(r.state.data(), static_cast<rapidjson::SizeType>(r.state.size()), a), a);
  data.AddMember("workflow_run", rapidjson::Value(run, a), a);
  if (const auto* repository = member(run, "repository"); repository && repository->IsObject()) {
    rapidjson::Value copy(*repository, a);
    if (!default_branch.empty() && !copy.HasMember("default_branch")) {
      copy.AddMember("default_branch",
                     rapidjson::Value(default_branch.data(), static_cast<rapidjson::SizeType>(default_branch.size()), a), a);
    }
    data.AddMember("repository", copy, a);
  }
  if (const auto* id = member(run, "workflow_id")) {
    rapidjson::Value workflow(rapidjson::kObjectType);
    workflow.AddMember("id", rapidjson::Value(*id, a), a);
    for (const char* field : {"name", "path"}) {
      if (const auto* v = member(run, field); v && v->IsString()) {
        workflow.AddMember(rapidjson::StringRef(field), rapidjson::Value(*v, a), a);
      }
    }
    data.AddMember("workflow", workflow, a);
  }
  const auto* sender = member(run, "triggering_actor");
  if (sender == nullptr || !sender->IsObject()) sender = member(run, "actor");
  if (sender != nullptr && sender->IsObject()) data.AddMember("sender", rapidjson::Value(*sender, a), a);

  event->id = "actions:" + r.id + ":" + r.attempt + ":" + std::string(r.state);
  const PayloadFields payload(event->data);
  event->type = event_type("workflow_run", payload);
  event->source = event_source(payload);
  event->subject = event_subject("workflow_run", payload);
  event->time = std::chrono::system_clock::now();
  event->set_meta("x-github-event", "workflow_run");
  return event;
}

}  // namespace switchyard::github
