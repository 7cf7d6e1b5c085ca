// The outbound client against plain sockets the test controls.
#include "http/client.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "log/logging.hpp"
#include "runtime/io.hpp"

namespace switchyard::http {
namespace {

using namespace std::chrono_literals;

// A listening socket on 127.0.0.1:<any>; closed by the destructor.
struct Listener {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  std::uint16_t port = 0;
  Listener() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~Listener() { ::close(fd); }
  // Accepts one connection and reads until the end of the request headers.
  int accept_request() {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return -1;
    const int conn = ::accept(fd, nullptr, nullptr);
    std::string data;
    char buf[4096];
    while (data.find("\r\n\r\n") == std::string::npos) {
      const auto n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
    return conn;
  }
};

struct ClientTest : ::testing::Test {
  void SetUp() override {
    log::setup("error", "text");
    io.start();
  }
  void TearDown() override { io.stop(); }
  runtime::Io io{1};
  runtime::StrandExecutor executor{io.make_strand()};
  log::ComponentLogger logger{"client-test"};
};

TEST_F(ClientTest, DestroyingTheClientAbandonsRequestsInFlight) {
  Listener server;
  auto client = make_client(io, executor, logger, HttpClientOptions{.request_timeout = 60s});
  std::atomic<bool> called{false};
  client->send({.method = "POST", .url = "http://127.0.0.1:" + std::to_string(server.port) + "/x", .body = "{}"},
               [&](Result<HttpClientResponse>) { called = true; });
  const int conn = server.accept_request();
  ASSERT_GE(conn, 0);
  const auto started = std::chrono::steady_clock::now();
  client.reset();
  // The client closes its end now, not at the 60 s request timeout.
  pollfd p{conn, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  char byte;
  EXPECT_EQ(::recv(conn, &byte, 1, 0), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ::close(conn);
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(called) << "no callback after the client is gone";
}

TEST_F(ClientTest, HeaderValuesWithLineBreaksAreRefusedBeforeConnecting) {
  Listener server;
  auto client = make_client(io, executor, logger, {});
  std::promise<Result<HttpClientResponse>> result;
  HttpClientRequest request{.method = "POST", .url = "http://127.0.0.1:" + std::to_string(server.port) + "/"};
  request.headers.add("Idempotency-Key", "abc\r\nX-Injected: 1");
  client->send(request, [&](Result<HttpClientResponse> r) { result.set_value(std::move(r)); });
  auto r = result.get_future().get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::permanent);
  pollfd p{server.fd, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 100), 0) << "nothing may connect";
}

TEST_F(ClientTest, ConnectionRefusedIsRetryable) {
  std::uint16_t port;
  { Listener gone; port = gone.port; }
  auto client = make_client(io, executor, logger, {});
  std::promise<Result<HttpClientResponse>> result;
  client->send({.url = "http://127.0.0.1:" + std::to_string(port) + "/"},
               [&](Result<HttpClientResponse> r) { result.set_value(std::move(r)); });
  auto r = result.get_future().get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::retryable);
}

TEST_F(ClientTest, ASilentServerTimesOutAsRetryable) {
  Listener server;
  auto client = make_client(io, executor, logger, HttpClientOptions{.request_timeout = 300ms});
  std::promise<Result<HttpClientResponse>> result;
  client->send({.url = "http://127.0.0.1:" + std::to_string(server.port) + "/"},
               [&](Result<HttpClientResponse> r) { result.set_value(std::move(r)); });
  const int conn = server.accept_request();
  auto r = result.get_future().get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::retryable);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos) << r.error().message;
  ::close(conn);
}

TEST_F(ClientTest, AnEndlessChunkExtensionIsRefusedNotBufferedUntilTheTimeout) {
  // Beast bounds neither chunk extensions nor trailers: the client's buffer does.
  Listener server;
  auto client = make_client(io, executor, logger, HttpClientOptions{.request_timeout = 20s});
  std::promise<Result<HttpClientResponse>> result;
  client->send({.url = "http://127.0.0.1:" + std::to_string(server.port) + "/"},
               [&](Result<HttpClientResponse> r) { result.set_value(std::move(r)); });
  const int conn = server.accept_request();
  std::thread feed([conn] {
    std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;";
    ::send(conn, head.data(), head.size(), MSG_NOSIGNAL);
    const std::string more(64 * 1024, 'x');
    for (int i = 0; i < 256; ++i) {  // 16 MiB, or until the client hangs up
      if (::send(conn, more.data(), more.size(), MSG_NOSIGNAL) < 0) break;
    }
  });
  auto future = result.get_future();
  const bool answered = future.wait_for(10s) == std::future_status::ready;
  ::shutdown(conn, SHUT_RDWR);
  feed.join();
  ::close(conn);
  ASSERT_TRUE(answered) << "still buffering";
  auto r = future.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::permanent);
  EXPECT_NE(r.error().message.find("chunk line"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace switchyard::http
