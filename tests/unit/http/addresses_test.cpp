// Listen addresses, URLs and NO_PROXY matching.
#include "http/addresses.hpp"

#include <gtest/gtest.h>

namespace switchyard::http {
namespace {

TEST(Endpoint, ParsesHostPortForms) {
  auto e = parse_endpoint("0.0.0.0:8080");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "0.0.0.0");
  EXPECT_EQ(e->port, 8080);
  e = parse_endpoint("[::1]:9090");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(format_endpoint(e->host, e->port), "[::1]:9090");
  e = parse_endpoint(":0");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "0.0.0.0");
  EXPECT_EQ(parse_endpoint("localhost:1")->host, "127.0.0.1");
}

TEST(Endpoint, RefusesMalformedAddresses) {
  for (const char* bad : {"8080", "host:", "host:http", "host:70000", "::1:80", "[::1]80", "[::1"}) {
    EXPECT_FALSE(parse_endpoint(bad)) << bad;
  }
}

TEST(Url, SplitsSchemeHostPortAndTarget) {
  auto u = parse_url("https://discord.com/api/webhooks/1/abc?wait=true");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->host, "discord.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/api/webhooks/1/abc?wait=true");
  EXPECT_EQ(u->authority(), "discord.com");
  u = parse_url("HTTP://127.0.0.1:8080");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->https);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->authority(), "127.0.0.1:8080");
  u = parse_url("http://[::1]:81/x#frag");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->target, "/x");
  EXPECT_EQ(u->authority(), "[::1]:81");
  EXPECT_EQ(parse_url("https://h?q=1")->target, "/?q=1");
}

TEST(Url, RefusesWhatWouldBeAmbiguousOrUnsafe) {
  for (const char* bad : {"ftp://x/", "//x/", "https://", "https://user:pw@host/", "https://h:99999/",
                          "https://h/a b", "https://h/\r\nX: y", "https://bad host/"}) {
    EXPECT_FALSE(parse_url(bad)) << bad;
  }
}

TEST(Url, ErrorsNeverShowThePathOrQueryWhereTokensLive) {
  // A webhook URL's token is in its path (Slack, Discord) or query: errors are logged and kept
  // with dead letters, so they show at most the scheme and authority.
  for (const char* bad : {"https://hooks.slack.com:/services/T0/B0/SECRETTOKEN", "hooks.slack.com/services/T0/B0/SECRETTOKEN",
                          "https:///services/T0/B0/SECRETTOKEN", "https://[::1]:x/services/SECRETTOKEN",
                          "https://h:1/a b?key=SECRETTOKEN"}) {
    const auto u = parse_url(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error().message.find("SECRETTOKEN"), std::string::npos) << u.error().message;
  }
  EXPECT_EQ(parse_url("https://hooks.slack.com:/services/T0/B0/SECRETTOKEN").error().message,
            "invalid port in 'https://hooks.slack.com:'");
}

TEST(NoProxy, MatchesHostsDomainsAndWildcard) {
  EXPECT_TRUE(no_proxy_matches("localhost,127.0.0.1", "127.0.0.1"));
  EXPECT_TRUE(no_proxy_matches("example.com", "api.example.com"));
  EXPECT_TRUE(no_proxy_matches(".example.com", "api.example.com"));
  EXPECT_TRUE(no_proxy_matches("example.com", "EXAMPLE.com"));
  EXPECT_FALSE(no_proxy_matches("example.com", "badexample.com"));
  EXPECT_TRUE(no_proxy_matches(" internal:8443 , other", "internal"));
  EXPECT_TRUE(no_proxy_matches("*", "anything"));
  EXPECT_FALSE(no_proxy_matches("", "anything"));
}

}  // namespace
}  // namespace switchyard::http
