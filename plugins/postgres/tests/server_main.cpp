// Starts the shared server once for the whole binary.
#include <gtest/gtest.h>

#include "server_fixture.hpp"

namespace switchyard::test {
namespace {
std::unique_ptr<PostgresServer> server;

class ServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { server = std::make_unique<PostgresServer>(); }
  void TearDown() override { server.reset(); }
};
}  // namespace

PostgresServer& shared_server() { return *server; }

}  // namespace switchyard::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new switchyard::test::ServerEnvironment);
  return RUN_ALL_TESTS();
}
