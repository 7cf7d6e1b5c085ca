// Keep-alive connections on the shared listener over real sockets: the idle timeout between
// requests closes a connection that stopped sending, and never one that keeps sending.
#include "http/server.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "config/engine_config.hpp"
#include "log/logging.hpp"
#include "runtime/io.hpp"

namespace switchyard::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A raw client connection to 127.0.0.1:port.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~Client() { ::close(fd_); }

  // Sends a GET and reads its answer: the text up to the end of the body ("ok"), or "" when
  // the server closed the connection or 5 s passed.
  std::string get() {
    const std::string request = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return "";
    std::string received;
    while (received.find("\r\n\r\nok") == std::string::npos) {
      if (!read_some(received)) return "";
    }
    return received;
  }
  // Whether the server closes the connection within `within`.
  bool closed_within(std::chrono::milliseconds within) {
    std::string ignored;
    const auto deadline = Clock::now() + within;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) == 1 && !read_some(ignored)) return true;
    }
    return false;
  }

 private:
  bool read_some(std::string& into) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    char buf[4096];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    into.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
};

struct KeepAliveTest : ::testing::Test {
  void SetUp() override {
    log::setup("error", "text");
    io.start();
    auto added = server.add("GET", "/ping", [](const HttpRequest&, HttpReply reply) {
      HttpResponse r;
      r.body = "ok";
      reply(std::move(r));
    });
    ASSERT_TRUE(added) << added.error().message;
    route = std::move(*added);
  }
  void TearDown() override {
    server.close();
    io.stop();
  }
  static ServerSettings settings() {
    auto s = config::listener_settings("test", "127.0.0.1:0");
    s.idle_timeout = 300ms;
    return s;
  }
  std::uint16_t port() const {
    const auto ep = server.local_endpoint();
    return static_cast<std::uint16_t>(std::stoi(ep.substr(ep.rfind(':') + 1)));
  }

  runtime::Io io{2};
  Server server{io, settings()};
  std::unique_ptr<HttpRoute> route;
};

TEST_F(KeepAliveTest, AConnectionIdleForIdleTimeoutIsClosed) {
  Client client(port());
  ASSERT_NE(client.get(), "");
  const auto answered = Clock::now();
  EXPECT_TRUE(client.closed_within(5s)) << "an idle keep-alive connection stays open";
  EXPECT_GE(Clock::now() - answered, 250ms) << "closed before idle_timeout";
}

TEST_F(KeepAliveTest, AConnectionThatKeepsSendingOutlivesTheIdleTimeout) {
  Client client(port());
  // Four idle timeouts' worth of requests, each within the timeout of the one before.
  for (int i = 0; i < 12; ++i) {
    ASSERT_NE(client.get(), "") << "request " << i << " found the connection closed";
    std::this_thread::sleep_for(100ms);  // the pause between requests is what is tested
  }
  EXPECT_TRUE(client.closed_within(5s));
}

}  // namespace
}  // namespace switchyard::http
