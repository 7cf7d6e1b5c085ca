#include "github_event.hpp"

namespace switchyard::github {
namespace {

std::string strip_ref(std::string ref) {
  for (std::string_view prefix : {"refs/heads/", "refs/tags/"}) {
    if (ref.rfind(prefix, 0) == 0) return ref.substr(prefix.size());
  }
  return ref;
}

}  // namespace

std::string event_type(std::string_view event, const PayloadFields& payload) {
  std::string type = "github.";
  type += event;
  if (const auto action = payload.string({"action"}); !action.empty()) {
    type += '.';
    type += action;
  }
  return type;
}

std::string event_source(const PayloadFields& payload) {
  if (auto url = payload.text({"repository", "html_url"}); !url.empty()) return url;
  if (auto login = payload.text({"organization", "login"}); !login.empty()) return "https://github.com/" + login;
  if (auto url = payload.text({"enterprise", "html_url"}); !url.empty()) return url;
  return "https://github.com";
}

std::string event_subject(std::string_view event, const PayloadFields& payload) {
  if (event == "push" || event == "create" || event == "delete") return strip_ref(payload.text({"ref"}));
  if (event.rfind("pull_request", 0) == 0) return payload.text({"pull_request", "number"});
  if (event == "issues" || event == "issue_comment") return payload.text({"issue", "number"});
  if (event == "discussion" || event == "discussion_comment") return payload.text({"discussion", "number"});
  if (event == "workflow_run") return payload.text({"workflow_run", "head_branch"});
  if (event == "workflow_job") return payload.text({"workflow_job", "head_branch"});
  if (event == "check_suite") return payload.text({"check_suite", "head_branch"});
  if (event == "check_run") return payload.text({"check_run", "check_suite", "head_branch"});
  if (event == "deployment" || event == "deployment_status") return strip_ref(payload.text({"deployment", "ref"}));
  if (event == "release") return payload.text({"release", "tag_name"});
  return {};
}

}  // namespace switchyard::github
