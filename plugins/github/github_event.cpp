#include "github_event.hpp"

namespace switchyard::github {
namespace {

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

const rapidjson::Value* path(const rapidjson::Value& v, std::initializer_list<const char*> names) {
  const rapidjson::Value* cur = &v;
  for (const char* n : names) {
    cur = member(*cur, n);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::string text(const rapidjson::Value* v) {
  if (v == nullptr) return {};
  if (v->IsString()) return std::string(v->GetString(), v->GetStringLength());
  if (v->IsInt64()) return std::to_string(v->GetInt64());
  if (v->IsUint64()) return std::to_string(v->GetUint64());
  return {};
}

std::string strip_ref(std::string ref) {
  for (std::string_view prefix : {"refs/heads/", "refs/tags/"}) {
    if (ref.rfind(prefix, 0) == 0) return ref.substr(prefix.size());
  }
  return ref;
}

}  // namespace

std::string event_type(std::string_view event, const rapidjson::Value& payload) {
  std::string type = "github.";
  type += event;
  const auto* action = member(payload, "action");
  if (action != nullptr && action->IsString() && action->GetStringLength() > 0) {
    type += '.';
    type.append(action->GetString(), action->GetStringLength());
  }
  return type;
}

std::string event_source(const rapidjson::Value& payload) {
  if (auto url = text(path(payload, {"repository", "html_url"})); !url.empty()) return url;
  if (auto login = text(path(payload, {"organization", "login"})); !login.empty()) {
    return "https://github.com/" + login;
  }
  if (auto url = text(path(payload, {"enterprise", "html_url"})); !url.empty()) return url;
  return "https://github.com";
}

std::string event_subject(std::string_view event, const rapidjson::Value& payload) {
  if (event == "push" || event == "create" || event == "delete") {
    return strip_ref(text(member(payload, "ref")));
  }
  if (event.rfind("pull_request", 0) == 0) return text(path(payload, {"pull_request", "number"}));
  if (event == "issues" || event == "issue_comment") return text(path(payload, {"issue", "number"}));
  if (event == "discussion" || event == "discussion_comment") {
    return text(path(payload, {"discussion", "number"}));
  }
  if (event == "workflow_run") return text(path(payload, {"workflow_run", "head_branch"}));
  if (event == "workflow_job") return text(path(payload, {"workflow_job", "head_branch"}));
  if (event == "check_suite") return text(path(payload, {"check_suite", "head_branch"}));
  if (event == "check_run") return text(path(payload, {"check_run", "check_suite", "head_branch"}));
  if (event == "deployment" || event == "deployment_status") {
    return strip_ref(text(path(payload, {"deployment", "ref"})));
  }
  if (event == "release") return text(path(payload, {"release", "tag_name"}));
  return {};
}

}  // namespace switchyard::github
