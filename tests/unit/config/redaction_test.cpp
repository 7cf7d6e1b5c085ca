// What the admin API shows of options (issue 16, item 9): URL user info and query values
// redacted, interpolated values as written, credentials in a URL refused by validate.
#include "config/redaction.hpp"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdlib>

#include "config/pipeline_config.hpp"
#include "loader/registry.hpp"
#include "support/status.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::config {
namespace {

TEST(Redaction, UrlsLoseUserInfoAndQueryValues) {
  EXPECT_EQ(redact_url("https://hooks.example.com/x"), "https://hooks.example.com/x");
  EXPECT_EQ(redact_url("https://api.example.com/v1/events?api_key=s3cr3t&region=eu"),
            "https://api.example.com/v1/events?api_key=<redacted>&region=<redacted>");
  EXPECT_EQ(redact_url("https://user:pa55@example.com:8443/p?flag#frag"), "https://<redacted>@example.com:8443/p?flag#frag");
  EXPECT_EQ(redact_url("http://example.com/a@b?token=x"), "http://example.com/a@b?token=<redacted>");
  EXPECT_EQ(redact_url("${{ payload.url }}"), "${{ payload.url }}");
  EXPECT_TRUE(url_has_credentials("https://user:pass@example.com/"));
  EXPECT_TRUE(url_has_credentials("https://token@example.com"));
  EXPECT_FALSE(url_has_credentials("https://example.com/users/@me"));
  EXPECT_FALSE(url_has_credentials("https://example.com?mail=a@b.c"));
}

class RedactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-core.so")));
    ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-http.so")));
  }
  bool load(const std::string& yaml, PipelineConfig& config, std::string& errors, std::vector<std::string> allow = {}) {
    const auto file = dir_.write("p.yaml", yaml);
    Diagnostics diagnostics;
    const bool ok = load_pipeline(file, registry_, config, diagnostics,
                                  YamlLimits::of(kDefaultMaxFileBytes, {.restricted = true, .allow = std::move(allow)}))
                        .has_value();
    for (const auto& d : diagnostics) errors += format(d).substr(dir_.path().string().size() + 1) + "\n";
    return ok;
  }
  static std::string json(const rapidjson::Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    v.Accept(w);
    return buffer.GetString();
  }
  loader::PluginRegistry registry_;
  test::TempDir dir_;
};

TEST_F(RedactionTest, TheApiShowsUrlsRedactedAndInterpolatedValuesAsWritten) {
  ::setenv("SY_TEST_API_KEY", "key-value-that-must-not-show", 1);
  ::setenv("SY_TEST_FORMAT", "data", 1);
  PipelineConfig config;
  std::string errors;
  ASSERT_TRUE(load(R"(source: {type: generate}
sinks:
  - type: http
    url: https://api.example.com/ingest?api_key=${SY_TEST_API_KEY}&v=2
    format: ${SY_TEST_FORMAT}
    headers:
      Authorization: Bearer ${SY_TEST_API_KEY}
)", config, errors, {"SY_TEST_API_KEY", "SY_TEST_FORMAT"})) << errors;
  const std::string shown = json(*config.sinks[0].redacted);
  EXPECT_EQ(shown.find("key-value-that-must-not-show"), std::string::npos) << shown;
  EXPECT_NE(shown.find(R"("url":"https://api.example.com/ingest?api_key=<redacted>&v=<redacted>")"), std::string::npos) << shown;
  EXPECT_NE(shown.find(R"("format":"${SY_TEST_FORMAT}")"), std::string::npos) << shown;
  EXPECT_NE(shown.find(R"("headers":"<redacted>")"), std::string::npos) << shown;
  // The component itself gets the values.
  EXPECT_EQ(std::string((*config.sinks[0].options)["format"].GetString()), "data");
}

TEST_F(RedactionTest, AnInterpolatedValueUnderAKeyWithADotShowsAsWritten) {
  // The recorded path sinks[0].body.service.token: body holds the key "service.token".
  ::setenv("SY_TEST_SVC_TOKEN", "svc-token-that-must-not-show", 1);
  PipelineConfig config;
  std::string errors;
  ASSERT_TRUE(load(R"(source: {type: generate}
sinks:
  - type: http
    url: https://api.example.com/ingest
    body: {"service.token": "${SY_TEST_SVC_TOKEN}", "list[0]": ["${SY_TEST_SVC_TOKEN}"], "plain": 1}
)", config, errors, {"SY_TEST_SVC_TOKEN"})) << errors;
  const std::string shown = json(*config.sinks[0].redacted);
  EXPECT_EQ(shown.find("svc-token-that-must-not-show"), std::string::npos) << shown;
  EXPECT_NE(shown.find(R"("service.token":"${SY_TEST_SVC_TOKEN}")"), std::string::npos) << shown;
  EXPECT_NE(shown.find(R"("list[0]":["${SY_TEST_SVC_TOKEN}"])"), std::string::npos) << shown;
}

TEST_F(RedactionTest, ValidateRefusesCredentialsInAUrl) {
  PipelineConfig config;
  std::string errors;
  EXPECT_FALSE(load(R"(source: {type: generate}
sinks:
  - type: http
    url: https://deploy:hunter2@hooks.example.com/x
)", config, errors));
  EXPECT_EQ(errors, "p.yaml:4:5: sinks[0].url: user info in a URL (user:password@host) is refused: credentials go in a "
                    "header (e.g. headers: {Authorization: ...}), which is redacted, or in the plugin's password option\n");
  EXPECT_EQ(errors.find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::config
