// HMAC-SHA256 signatures against published vectors.
#include <gtest/gtest.h>

#include "common/signing.hpp"

#include <atomic>
#include <thread>
#include <vector>

namespace switchyard::signing {
namespace {

// What a receiver does with the secrets it is configured with.
bool verify(const std::vector<std::string>& secrets, std::string_view body, std::string_view header) {
  return Keys(secrets).verify(body, header);
}

// GitHub's documented example ("Validating webhook deliveries").
TEST(Signing, MatchesGitHubsDocumentedExample) {
  EXPECT_EQ(sign("It's a Secret to Everybody", "Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  EXPECT_TRUE(verify({"It's a Secret to Everybody"}, "Hello, World!",
                     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
}

// RFC 4231, test cases 1 and 2 (HMAC-SHA-256).
TEST(Signing, MatchesRfc4231Vectors) {
  EXPECT_EQ(to_hex(*hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(to_hex(*hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Signing, RefusesMalformedAndWrongSignatures) {
  const std::string good = sign("s3cret", "body");
  EXPECT_TRUE(verify({"s3cret"}, "body", good));
  EXPECT_FALSE(verify({"other"}, "body", good));
  EXPECT_FALSE(verify({"s3cret"}, "bodY", good));
  EXPECT_FALSE(verify({"s3cret"}, "body", good.substr(0, good.size() - 1)));
  EXPECT_FALSE(verify({"s3cret"}, "body", "sha1=" + good.substr(7)));
  EXPECT_FALSE(verify({"s3cret"}, "body", good.substr(7)));
  EXPECT_FALSE(verify({"s3cret"}, "body", "sha256=" + std::string(64, 'z')));
  EXPECT_FALSE(verify({}, "body", good));
  // Upper-case hex is still the same digest.
  std::string upper = good;
  for (std::size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  EXPECT_TRUE(verify({"s3cret"}, "body", upper));
}

TEST(Signing, AnyOfSeveralSecretsMatches) {
  EXPECT_TRUE(verify({"old", "new"}, "x", sign("new", "x")));
  EXPECT_TRUE(verify({"old", "new"}, "x", sign("old", "x")));
  EXPECT_FALSE(verify({"old", "new"}, "x", sign("neither", "x")));
}

TEST(Signing, PreparedKeysAcceptWhatTheSecretsSignedAndNothingElse) {
  const Keys keys({"old", "new"});
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys.verify("x", sign("new", "x")));
  EXPECT_TRUE(keys.verify("x", sign("old", "x")));
  EXPECT_FALSE(keys.verify("x", sign("neither", "x")));
  EXPECT_FALSE(keys.verify("y", sign("new", "x")));
  EXPECT_FALSE(Keys().verify("x", sign("new", "x"))) << "no secrets accept nothing";
  // RFC 4231 case 6: a key longer than the block size is hashed first.
  const std::string long_key(131, '\xaa');
  EXPECT_TRUE(Keys({long_key}).verify("Test Using Larger Than Block-Size Key - Hash Key First",
                                      "sha256=60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
}

TEST(Signing, PreparedKeysAreSharedByThreads) {
  const Keys keys({"s3cret"});
  const std::string good = sign("s3cret", "payload"), bad = sign("other", "payload");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (!keys.verify("payload", good) || keys.verify("payload", bad)) wrong.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace switchyard::signing
