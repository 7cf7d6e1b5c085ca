#include "admin/request_guard.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace switchyard::admin {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The host of a Host header value ("name:port", "[v6]:port"), lower case, without a
// trailing dot; empty when malformed.
std::string host_of(std::string_view value) {
  value = trim(value);
  std::string_view host = value;
  if (value.starts_with("[")) {
    const auto close = value.find(']');
    if (close == std::string_view::npos) return {};
    host = value.substr(1, close - 1);
    const auto rest = value.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) return {};
  } else if (const auto colon = value.rfind(':'); colon != std::string_view::npos) {
    host = value.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return {};  // an IPv6 address must be bracketed
  }
  std::string out = lower(host);
  if (out.ends_with(".")) out.pop_back();
  return out;
}

bool ip_literal(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

bool json_content_type(std::string_view value) {
  const auto media = trim(value.substr(0, value.find(';')));
  return lower(media) == "application/json";
}

HttpResponse refused(int status, std::string_view reason) { return HttpResponse::error(status, reason); }

}  // namespace

RequestGuard::RequestGuard(std::vector<std::string> allowed_hosts) {
  for (auto& h : allowed_hosts) {
    if (h == "*") any_host_ = true;
    std::string host = lower(h);
    if (host.ends_with(".")) host.pop_back();
    allowed_hosts_.push_back(std::move(host));
  }
}

bool RequestGuard::allowed_host(std::string_view host) const {
  const std::string h(host);
  return any_host_ || h == "localhost" || ip_literal(h) ||
         std::find(allowed_hosts_.begin(), allowed_hosts_.end(), h) != allowed_hosts_.end();
}

std::optional<HttpResponse> RequestGuard::check(const HttpRequest& request) const {
  const auto host_header = request.headers.get("Host");
  if (host_header) {
    const std::string host = host_of(*host_header);
    if (host.empty() || !allowed_host(host)) {
      return refused(403, "Host '" + std::string(trim(*host_header)) +
                              "' is not a name of this admin listener: use its IP address or localhost, or "
                              "list the name in admin.allowed_hosts");
    }
  }
  if (request.method == "GET" || request.method == "HEAD") return std::nullopt;
  // Changes state: only from a client that is not a page of another origin.
  if (auto site = request.headers.get("Sec-Fetch-Site")) {
    const std::string s = lower(trim(*site));
    if (s == "cross-site" || s == "same-site") {
      return refused(403, "cross-origin requests may not change the admin API's state (Sec-Fetch-Site: " + s + ")");
    }
  }
  if (auto origin = request.headers.get("Origin")) {
    const std::string o = lower(trim(*origin));
    const std::string h = host_header ? lower(trim(*host_header)) : std::string();
    if (h.empty() || (o != "http://" + h && o != "https://" + h)) {
      return refused(403, "cross-origin requests may not change the admin API's state (Origin: " +
                              std::string(trim(*origin)) + ")");
    }
  }
  const auto type = request.headers.get("Content-Type");
  if (!type || !json_content_type(*type)) {
    return refused(415, "send Content-Type: application/json (the body may be empty where none is needed)");
  }
  return std::nullopt;
}

}  // namespace switchyard::admin
