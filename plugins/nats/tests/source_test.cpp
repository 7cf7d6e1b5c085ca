// The nats source's options in the SDK harness. Consuming from a real JetStream cluster
// (acks after the sinks, redelivery after a crash, backpressure) is tested end to end in
// tests/e2e/nats.test.mjs.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "source/source.hpp"

namespace switchyard::nats {
namespace {

using testing::Harness;

std::string configure_error(std::string_view json) {
  Harness h(kSourceDecl, json);
  auto s = h.configure();
  return s ? "" : s.error().message;
}

TEST(NatsSource, AcceptsAMinimalConfiguration) {
  EXPECT_EQ(configure_error(R"({"stream": "EVENTS", "consumer": "workers"})"), "");
  EXPECT_EQ(configure_error(R"({"stream": "EVENTS", "consumer": "workers", "filter_subject": "github.>",
                                "deliver": "new", "batch": 10, "max_ack_pending": 50, "ack_wait": "1m",
                                "servers": ["n1:4222", "n2:4222", "n3:4222"]})"),
            "");
}

TEST(NatsSource, ReportsEveryConfigurationErrorAtOnce) {
  const std::string error = configure_error(
      R"({"stream": "a b", "consumer": "w.1", "filter_subject": "github..x", "batch": 0,
          "max_in_flight": 0, "max_ack_pending": 0, "ack_wait": "100ms", "password": "p"})");
  for (const char* expected : {"stream:", "consumer:", "filter_subject:", "batch:", "max_in_flight:",
                               "max_ack_pending:", "ack_wait:", "password: needs username"}) {
    EXPECT_NE(error.find(expected), std::string::npos) << expected << " in: " << error;
  }
}

TEST(NatsSource, RefusesAnUnknownStartingPoint) {
  Harness h(kSourceDecl, R"({"stream": "EVENTS", "consumer": "workers", "deliver": "last"})");
  EXPECT_FALSE(h.configure());
}

}  // namespace
}  // namespace switchyard::nats
