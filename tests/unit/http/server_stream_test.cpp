// Server-Sent Events on the shared listener (http::Server::add_event_stream), over real
// sockets: framing, refusal, the client leaving, a client that stops reading, server close.
#include "http/server.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "config/engine_config.hpp"
#include "log/logging.hpp"
#include "runtime/io.hpp"

namespace switchyard::http {
namespace {

using namespace std::chrono_literals;

// A raw client connection to 127.0.0.1:port.
struct Client {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  std::string received;

  explicit Client(std::uint16_t port, int rcvbuf = 0) {
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~Client() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  void send(std::string_view text) { ASSERT_EQ(::send(fd, text.data(), text.size(), 0), static_cast<ssize_t>(text.size())); }
  // Reads until `text` has arrived (true), the peer closed or 5 s passed (false).
  bool read_until(std::string_view text) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (received.find(text) == std::string::npos) {
      if (!read_some(deadline)) return false;
    }
    return true;
  }
  // Reads until the peer closes (true) or 5 s passed (false).
  bool read_to_end() {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
      char buf[4096];
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return true;
      received.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    char buf[4096];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    received.append(buf, static_cast<std::size_t>(n));
    return true;
  }
};

struct ServerStreamTest : ::testing::Test {
  void SetUp() override {
    log::setup("error", "text");
    io.start();
  }
  void TearDown() override {
    server.close();
    io.stop();
  }

  // Registers /events; the handler keeps each stream and greets it.
  void serve(EventStreamOptions options = {}) {
    auto route = server.add_event_stream(
        "/events",
        [this](const HttpRequest& request, std::shared_ptr<EventStream> stream) -> std::optional<HttpResponse> {
          if (request.query == "refuse") return HttpResponse::error(401, "no");
          stream->send("greeting", "hi");
          std::lock_guard lock(mutex);
          streams.push_back(std::move(stream));
          return std::nullopt;
        },
        options);
    ASSERT_TRUE(route) << route.error().message;
    route_ = std::move(*route);
  }
  std::uint16_t port() const {
    const auto ep = server.local_endpoint();
    return static_cast<std::uint16_t>(std::stoi(ep.substr(ep.rfind(':') + 1)));
  }
  std::shared_ptr<EventStream> wait_stream(std::size_t n = 1) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(mutex);
        if (streams.size() >= n) return streams[n - 1];
      }
      std::this_thread::sleep_for(10ms);
    }
    return nullptr;
  }

  // Subscribes `client` to /events and waits for the greeting; true when it arrived.
  static bool subscribe(Client& client) {
    client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    return client.read_until("data: hi\n\n");
  }

  runtime::Io io{2};
  Server server{io, config::listener_settings("test", "127.0.0.1:0")};
  std::unique_ptr<HttpRoute> route_;
  std::mutex mutex;
  std::vector<std::shared_ptr<EventStream>> streams;
};

TEST_F(ServerStreamTest, FramesFollowTheHeadAsTheyAreSent) {
  serve();
  Client client(port());
  client.send("GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
  ASSERT_TRUE(client.read_until("data: hi\n\n")) << client.received;
  EXPECT_EQ(client.received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << client.received;
  EXPECT_NE(client.received.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_EQ(client.received.find("Content-Length"), std::string::npos) << "the body ends when the connection does";
  EXPECT_NE(client.received.find("\r\n\r\nevent: greeting\ndata: hi\n\n"), std::string::npos) << client.received;

  auto stream = wait_stream();
  ASSERT_TRUE(stream);
  EXPECT_TRUE(stream->send("tick", "a\nb"));
  ASSERT_TRUE(client.read_until("event: tick\ndata: a\ndata: b\n\n")) << client.received;
  // Line breaks of any kind in data become data lines: no field can be injected.
  EXPECT_TRUE(stream->send("x\ny", "one\r\nevent: evil\rtwo"));
  ASSERT_TRUE(client.read_until("event: x y\ndata: one\ndata: event: evil\ndata: two\n\n")) << client.received;
  EXPECT_TRUE(stream->comment("keep-alive"));
  ASSERT_TRUE(client.read_until(": keep-alive\n\n"));
  EXPECT_EQ(server.stats().streams, 1u);

  // close(): what is queued goes out, then the connection ends.
  EXPECT_TRUE(stream->send("last", "1"));
  stream->close();
  EXPECT_FALSE(stream->send("after", "1"));
  ASSERT_TRUE(client.read_to_end());
  EXPECT_NE(client.received.find("event: last\ndata: 1\n\n"), std::string::npos) << client.received;
}

TEST_F(ServerStreamTest, AHandlerCanRefuseWithAnOrdinaryResponse) {
  serve();
  Client client(port());
  client.send("GET /events?refuse HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.read_until("{\"error\":\"no\"}")) << client.received;
  EXPECT_EQ(client.received.rfind("HTTP/1.1 401", 0), 0u) << client.received;
  EXPECT_EQ(server.stats().streams, 0u);
  // The connection stays usable (keep-alive) for the next request.
  client.received.clear();
  client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.read_until("data: hi\n\n")) << client.received;
}

TEST_F(ServerStreamTest, TheStreamEndsWhenTheClientLeaves) {
  serve();
  {
    Client client(port());
    ASSERT_TRUE(subscribe(client));
  }
  auto stream = wait_stream();
  ASSERT_TRUE(stream);
  for (int i = 0; i < 200 && stream->open(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(stream->open());
  EXPECT_FALSE(stream->send("late", "x"));
  for (int i = 0; i < 200 && server.stats().streams != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.stats().streams, 0u);
}

TEST_F(ServerStreamTest, AClientThatStopsReadingIsDroppedWithoutBlockingTheSender) {
  serve(EventStreamOptions{.max_buffered = 64 * 1024});
  Client slow(port(), /*rcvbuf=*/4096);
  ASSERT_TRUE(subscribe(slow));
  auto stream = wait_stream();
  ASSERT_TRUE(stream);
  // The client reads nothing more. Kernel buffers take a few MiB, then 64 KiB queue up
  // and the client is dropped; no send ever waits.
  const std::string frame(1024, 'x');
  const auto started = std::chrono::steady_clock::now();
  std::size_t sent = 0;
  while (stream->send("fill", frame)) {
    ++sent;
    ASSERT_LT(sent, 1'000'000u) << "never dropped";
    if (sent % 64 == 0) std::this_thread::sleep_for(1ms);  // let the writer drain into the kernel
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_FALSE(stream->open());
  for (int i = 0; i < 200 && server.stats().streams_dropped == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.stats().streams_dropped, 1u);
  // Its connection is closed: reading on, the client comes to the end.
  EXPECT_TRUE(slow.read_to_end() || slow.read_to_end());

  // Another client is unaffected.
  Client other(port());
  ASSERT_TRUE(subscribe(other));
}

TEST_F(ServerStreamTest, ClosingTheServerEndsOpenStreams) {
  serve();
  Client client(port());
  ASSERT_TRUE(subscribe(client));
  auto stream = wait_stream();
  ASSERT_TRUE(stream);
  server.close();
  ASSERT_TRUE(client.read_to_end()) << "the connection ends";
  EXPECT_FALSE(stream->send("late", "x"));
}

}  // namespace
}  // namespace switchyard::http
