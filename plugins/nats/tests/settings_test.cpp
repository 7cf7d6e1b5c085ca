// What the nats components share: server URLs, authentication choices and NATS names.
#include <gtest/gtest.h>

#include "connection/nkey.hpp"
#include "connection/settings.hpp"

namespace switchyard::nats {
namespace {

TEST(NatsSubjects, AcceptsTokensAndWildcardsOnlyWhereAllowed) {
  EXPECT_TRUE(valid_subject("github.push", false));
  EXPECT_TRUE(valid_subject("github.*.opened", true));
  EXPECT_TRUE(valid_subject("github.>", true));
  EXPECT_FALSE(valid_subject("github.>", false));
  EXPECT_FALSE(valid_subject("github.>.x", true));
  EXPECT_FALSE(valid_subject("github..push", false));
  EXPECT_FALSE(valid_subject("github push", false));
  EXPECT_FALSE(valid_subject("", false));
  EXPECT_FALSE(valid_subject("github.pu*", true));
}

TEST(NatsSubjects, MatchesPatternsAsTheServerDoes) {
  EXPECT_TRUE(subject_matches("github.>", "github.push"));
  EXPECT_TRUE(subject_matches("github.>", "github.pull_request.opened"));
  EXPECT_FALSE(subject_matches("github.>", "github"));
  EXPECT_TRUE(subject_matches("github.*", "github.push"));
  EXPECT_FALSE(subject_matches("github.*", "github.pull_request.opened"));
  EXPECT_TRUE(subject_matches("github.push", "github.push"));
  EXPECT_FALSE(subject_matches("github.push", "github.pushed"));
}

TEST(NatsNames, RefusesWhatTheServerRefuses) {
  EXPECT_TRUE(valid_name("EVENTS"));
  EXPECT_TRUE(valid_name("workers-1_a"));
  for (const char* bad : {"", "a.b", "a b", "a*", "a>", "a/b"}) EXPECT_FALSE(valid_name(bad)) << bad;
}

TEST(NatsNKey, DerivesThePublicKeyOfASeed) {
  // The example pair of the NATS documentation (nkey authentication).
  const auto key = NKey::from_seed("SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->public_key(), "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4");
  EXPECT_EQ(key->sign("nonce").size(), 64u);
}

TEST(NatsNKey, RefusesOtherKeysAndBrokenSeeds) {
  // An account seed, a public key, a seed with one character changed.
  EXPECT_FALSE(NKey::from_seed("SAACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY"));
  EXPECT_FALSE(NKey::from_seed("UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"));
  EXPECT_FALSE(NKey::from_seed("SUACSSL3UBHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY"));
  std::array<std::uint8_t, 32> raw{};
  raw[0] = 1;
  const auto seed = NKey::seed_text(raw);
  EXPECT_TRUE(seed.starts_with("SU"));
  EXPECT_TRUE(NKey::from_seed(seed));
}

TEST(NatsDurations, ReadLikeOptions) {
  using namespace std::chrono_literals;
  EXPECT_EQ(human(250ms), "250ms");
  EXPECT_EQ(human(5s), "5s");
  EXPECT_EQ(human(2min), "2m");
}

}  // namespace
}  // namespace switchyard::nats
