#pragma once
// Which requests the admin API serves at all: no web page may drive it. A page cannot read
// the admin API's answers (no CORS is ever granted), but it can make a browser send
// requests to a loopback listener — "simple" cross-origin POSTs (an HTML form, a no-cors
// fetch) — and, after DNS rebinding, read answers under a host name of its own. So:
//   - the Host header must name this listener: an IP address, `localhost`, or a name listed
//     in admin.allowed_hosts ("*" turns the check off, e.g. behind a proxy that checks it);
//   - a request that changes state (POST) must carry `Content-Type: application/json`
//     (a page can send that cross-origin only after a CORS preflight, which is refused),
//     and must not come from another origin: no foreign `Origin`, no
//     `Sec-Fetch-Site: cross-site` or `same-site` (another port of the same host).
// Clients that are not browsers (curl, Prometheus, the CLI) send none of these headers
// but Host, which they set to the address they connect to.

#include <optional>
#include <string>
#include <vector>

#include "switchyard/http.hpp"

namespace switchyard::admin {

class RequestGuard {
 public:
  explicit RequestGuard(std::vector<std::string> allowed_hosts);

  /// nullopt when `request` may be served; else the answer refusing it (403, 415).
  std::optional<HttpResponse> check(const HttpRequest& request) const;

 private:
  bool allowed_host(std::string_view host) const;
  std::vector<std::string> allowed_hosts_;  // lower case, without a trailing dot
  bool any_host_ = false;
};

}  // namespace switchyard::admin
