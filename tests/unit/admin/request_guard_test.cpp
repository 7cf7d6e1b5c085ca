// The admin API serves no request a web page can make a browser send (issue 16, item 5).
#include "admin/request_guard.hpp"

#include <gtest/gtest.h>

namespace switchyard::admin {
namespace {

// The status a request gets: 0 when it is served.
int status(const RequestGuard& guard, std::string_view method, std::initializer_list<HttpHeaders::Field> fields) {
  HttpHeaders headers;
  for (const auto& f : fields) headers.add(f.name, f.value);
  const HttpRequest request{.method = method, .path = "/api/reload", .query = "", .headers = headers, .body = "",
                            .remote = "127.0.0.1:5000"};
  const auto refusal = guard.check(request);
  return refusal ? refusal->status : 0;
}

TEST(RequestGuard, HostMustBeAnAddressLocalhostOrAnAllowedName) {
  const RequestGuard guard({"Admin.Example.org"});
  for (const char* host : {"127.0.0.1:9090", "localhost:9090", "LOCALHOST", "[::1]:9090", "10.1.2.3:9090",
                           "admin.example.org:9090", "admin.example.org.:9090"}) {
    EXPECT_EQ(status(guard, "GET", {{"Host", host}}), 0) << host;
  }
  // DNS rebinding: the attacker's name resolving to 127.0.0.1.
  for (const char* host : {"rebind.attacker.example:9090", "example.org:9090", "::1:9090", "[::1", ""}) {
    EXPECT_EQ(status(guard, "GET", {{"Host", host}}), 403) << host;
  }
  EXPECT_EQ(status(guard, "GET", {}), 0) << "HTTP/1.0 clients send no Host";
  EXPECT_EQ(status(RequestGuard({"*"}), "GET", {{"Host", "anything.example:9090"}}), 0);
}

TEST(RequestGuard, StateChangesNeedJsonContentType) {
  const RequestGuard guard({});
  const HttpHeaders::Field host{"Host", "127.0.0.1:9090"};
  EXPECT_EQ(status(guard, "POST", {host, {"Content-Type", "application/json"}}), 0);
  EXPECT_EQ(status(guard, "POST", {host, {"Content-Type", "Application/JSON; charset=utf-8"}}), 0);
  // What an HTML form or a no-cors fetch can send without a preflight.
  for (const char* type : {"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"}) {
    EXPECT_EQ(status(guard, "POST", {host, {"Content-Type", type}}), 415) << type;
  }
  EXPECT_EQ(status(guard, "POST", {host}), 415);
}

TEST(RequestGuard, StateChangesFromAnotherOriginAreRefused) {
  const RequestGuard guard({});
  const HttpHeaders::Field host{"Host", "127.0.0.1:9090"};
  const HttpHeaders::Field json{"Content-Type", "application/json"};
  // The console itself: same origin.
  EXPECT_EQ(status(guard, "POST", {host, json, {"Origin", "http://127.0.0.1:9090"}, {"Sec-Fetch-Site", "same-origin"}}), 0);
  EXPECT_EQ(status(guard, "POST", {host, json, {"Origin", "http://127.0.0.1:8000"}}), 403) << "another port";
  EXPECT_EQ(status(guard, "POST", {host, json, {"Origin", "https://evil.example"}}), 403);
  EXPECT_EQ(status(guard, "POST", {host, json, {"Origin", "null"}}), 403) << "a sandboxed page";
  EXPECT_EQ(status(guard, "POST", {host, json, {"Sec-Fetch-Site", "cross-site"}}), 403);
  EXPECT_EQ(status(guard, "POST", {host, json, {"Sec-Fetch-Site", "same-site"}}), 403);
  EXPECT_EQ(status(guard, "POST", {host, json, {"Sec-Fetch-Site", "none"}}), 0) << "typed in the address bar";
  // Reads are not refused for their origin (no page can read the answer).
  EXPECT_EQ(status(guard, "GET", {host, {"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}}), 0);
}

}  // namespace
}  // namespace switchyard::admin
