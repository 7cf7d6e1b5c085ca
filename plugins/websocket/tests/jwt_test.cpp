// HS256 JSON Web Tokens: RFC 7515's own example, tokens minted here, and every way a token
// is refused (signature, algorithm, exp/nbf, malformed), and the rooms claim's globs.
#include <gtest/gtest.h>

#include "common/signing.hpp"
#include "jwt.hpp"

namespace switchyard::websocket {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::system_clock;

Clock::time_point at(std::int64_t unix_seconds) { return Clock::time_point(seconds(unix_seconds)); }

const std::string kSecret = "0123456789abcdef0123456789abcdef-test";

std::string mint(const std::string& claims, const std::string& header = R"({"alg":"HS256","typ":"JWT"})",
                 const std::string& secret = kSecret) {
  const std::string signing_input = base64url_encode(header) + "." + base64url_encode(claims);
  const auto mac = signing::hmac_sha256(secret, signing_input);
  return signing_input + "." + base64url_encode(std::string(reinterpret_cast<const char*>(mac->data()), mac->size()));
}

TEST(Jwt, AcceptsTheExampleOfRfc7515) {
  // RFC 7515 appendix A.1: HS256 with the key given there as a JWK.
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
      ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
      ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  const auto key = base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(key);
  auto claims = verify_jwt(token, *key, at(1300819000));
  ASSERT_TRUE(claims.has_value()) << claims.error().message;
  EXPECT_FALSE(claims->limits_rooms);
  // Its exp is 1300819380: an hour later it has expired.
  auto late = verify_jwt(token, *key, at(1300819380 + 3600));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().message, "token expired");
  // One character of the signature changed (not the last: its low bits are padding).
  std::string tampered = token;
  char& c = tampered[tampered.size() - 5];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(verify_jwt(tampered, *key, at(1300819000)).error().message, "bad signature");
}

TEST(Jwt, ReadsSubjectAndRooms) {
  auto claims = verify_jwt(mint(R"({"sub":"alice","exp":2000000000,"rooms":["octo-org/*","acme/site"]})"), kSecret,
                           at(1900000000));
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_TRUE(claims->limits_rooms);
  EXPECT_TRUE(room_allowed(claims->rooms, "octo-org/hello-service"));
  EXPECT_TRUE(room_allowed(claims->rooms, "acme/site"));
  EXPECT_FALSE(room_allowed(claims->rooms, "acme/site2"));
  EXPECT_FALSE(room_allowed(claims->rooms, "evil/octo-org/x"));

  auto one = verify_jwt(mint(R"({"rooms":"acme/*"})"), kSecret, at(1900000000), {.require_exp = false});
  ASSERT_TRUE(one);
  EXPECT_EQ(one->rooms, std::vector<std::string>{"acme/*"});
  EXPECT_TRUE(one->subject.empty());
}

TEST(Jwt, RefusesAnotherKeyAndAnyOtherAlgorithm) {
  EXPECT_EQ(verify_jwt(mint(R"({"sub":"a"})", R"({"alg":"HS256"})", "another key of thirty-two bytes!!"), kSecret,
                       at(1900000000))
                .error()
                .message,
            "bad signature");
  // alg "none" with an empty signature must not pass, nor a token claiming HS512.
  const std::string none = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(R"({"sub":"a"})") + ".";
  EXPECT_EQ(verify_jwt(none, kSecret, at(1900000000)).error().message, "unsupported token algorithm (HS256 only)");
  EXPECT_EQ(verify_jwt(mint(R"({"sub":"a"})", R"({"alg":"HS512"})"), kSecret, at(1900000000)).error().message,
            "unsupported token algorithm (HS256 only)");
}

TEST(Jwt, ChecksExpiryAndNotBeforeWithTheLeeway) {
  const std::string token = mint(R"({"exp":1000,"nbf":900})");
  EXPECT_TRUE(verify_jwt(token, kSecret, at(950)));
  EXPECT_TRUE(verify_jwt(token, kSecret, at(1000 + kJwtLeeway.count() - 1))) << "within the leeway";
  EXPECT_EQ(verify_jwt(token, kSecret, at(1000 + kJwtLeeway.count())).error().message, "token expired");
  EXPECT_TRUE(verify_jwt(token, kSecret, at(900 - kJwtLeeway.count())));
  EXPECT_EQ(verify_jwt(token, kSecret, at(900 - kJwtLeeway.count() - 1)).error().message, "token not valid yet (nbf)");
  EXPECT_FALSE(verify_jwt(mint(R"({"exp":"tomorrow"})"), kSecret, at(950)));
}

TEST(Jwt, WantsAnExpUnlessThePolicySaysOtherwise) {
  const std::string forever = mint(R"({"sub":"a"})");
  EXPECT_EQ(verify_jwt(forever, kSecret, at(1900000000)).error().message, "token without exp (jwt_require_exp)");
  auto allowed = verify_jwt(forever, kSecret, at(1900000000), {.require_exp = false});
  ASSERT_TRUE(allowed) << allowed.error().message;
  EXPECT_FALSE(allowed->expires) << "no exp: the connection is never closed for it";

  // A token knows when it expires: exp plus the leeway, to the second.
  auto dated = verify_jwt(mint(R"({"exp":1000})"), kSecret, at(950));
  ASSERT_TRUE(dated && dated->expires);
  EXPECT_EQ(*dated->expires, at(1000 + kJwtLeeway.count()));
  // An exp past system_clock's range (2262) is held a century from now, not wrapped into the past.
  auto far = verify_jwt(mint(R"({"exp":1e300})"), kSecret, at(1900000000));
  ASSERT_TRUE(far && far->expires);
  EXPECT_GT(*far->expires, at(1900000000 + 99LL * 365 * 86400));
}

TEST(Jwt, ChecksAudienceAndIssuerWhenTheEndpointNamesThem) {
  const JwtPolicy policy{.audience = "dashboard", .issuer = "https://login.example.com"};
  auto check = [&](const std::string& claims) {
    auto r = verify_jwt(mint(claims), kSecret, at(950), policy);
    return r ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(check(R"({"exp":1000,"aud":"dashboard","iss":"https://login.example.com"})"), "ok");
  EXPECT_EQ(check(R"({"exp":1000,"aud":["billing","dashboard"],"iss":"https://login.example.com"})"), "ok");
  EXPECT_EQ(check(R"({"exp":1000,"aud":"billing","iss":"https://login.example.com"})"),
            "token for another audience (aud)");
  EXPECT_EQ(check(R"({"exp":1000,"aud":["billing"],"iss":"https://login.example.com"})"),
            "token for another audience (aud)");
  EXPECT_EQ(check(R"({"exp":1000,"iss":"https://login.example.com"})"), "token for another audience (aud)");
  EXPECT_EQ(check(R"({"exp":1000,"aud":"dashboard","iss":"https://evil.example.com"})"),
            "token from another issuer (iss)");
  EXPECT_EQ(check(R"({"exp":1000,"aud":"dashboard"})"), "token from another issuer (iss)");
  EXPECT_EQ(check(R"({"exp":1000,"aud":"dashboard","iss":["https://login.example.com"]})"),
            "token from another issuer (iss)");
  // Without a policy, aud and iss are not looked at.
  EXPECT_TRUE(verify_jwt(mint(R"({"exp":1000,"aud":"billing","iss":"x"})"), kSecret, at(950)));
}

TEST(Jwt, RefusesMalformedTokens) {
  for (const std::string& bad : {std::string(""), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"),
                                std::string("!!.b.c"), mint("not json"), mint(R"(["array"])"),
                                mint(R"({"rooms":[1,2]})"), mint(R"({"sub":7})"), std::string(9000, 'a')}) {
    EXPECT_FALSE(verify_jwt(bad, kSecret, at(1900000000))) << bad;
  }
}

TEST(Jwt, Base64UrlRoundTrips) {
  for (const std::string& text : {std::string(""), std::string("f"), std::string("fo"), std::string("foo"),
                                 std::string("\xff\xfe\x00\x01", 4)}) {
    EXPECT_EQ(base64url_decode(base64url_encode(text)), text);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("ab+/"));
}

}  // namespace
}  // namespace switchyard::websocket
