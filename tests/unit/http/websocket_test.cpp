// WebSocket routes on the shared listener (http::Server::add_websocket_owned), over real
// sockets with Boost.Beast's client: the upgrade and its refusal, messages both ways with
// the handler on a component strand, subprotocols, close codes, the bounded send queue (a
// client that stops reading is closed with 1013 while another keeps receiving), the
// heartbeat dropping a silent client, the message size limit, and removing the route.
#include "http/server.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "config/engine_config.hpp"
#include "log/logging.hpp"
#include "runtime/io.hpp"
#include "switchyard/websocket.hpp"

namespace switchyard::http {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

// Records what reaches the handler; answers upgrades as `decide` says and echoes messages.
struct Recorder final : WebSocketHandler {
  std::function<WebSocketUpgrade(const WebSocketRequest&)> decide = [](const WebSocketRequest&) {
    return WebSocketUpgrade::accept();
  };
  runtime::Strand* strand = nullptr;  // the callbacks must run there
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::shared_ptr<WebSocketConnection>> opened_connections;
  std::vector<std::string> messages;
  std::vector<WebSocketClosed> closes;
  std::vector<std::string> upgrade_headers;
  bool off_strand = false;

  WebSocketUpgrade upgrade(const WebSocketRequest& request) override {
    std::lock_guard lock(mutex);
    if (auto auth = request.http.headers.get("Authorization")) upgrade_headers.emplace_back(*auth);
    return decide(request);
  }
  void opened(const std::shared_ptr<WebSocketConnection>& connection) override {
    note_strand();
    std::lock_guard lock(mutex);
    opened_connections.push_back(connection);
    changed.notify_all();
  }
  void message(const std::shared_ptr<WebSocketConnection>& connection, std::string text) override {
    note_strand();
    connection->send("echo:" + text);
    std::lock_guard lock(mutex);
    messages.push_back(std::move(text));
    changed.notify_all();
  }
  void closed(const std::shared_ptr<WebSocketConnection>&, const WebSocketClosed& how) override {
    note_strand();
    std::lock_guard lock(mutex);
    closes.push_back(how);
    changed.notify_all();
  }
  void note_strand() {
    if (strand && !strand->running_in_this_thread()) off_strand = true;
  }
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds within = 5s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, within, pred);
  }
  std::shared_ptr<WebSocketConnection> connection(std::size_t n = 0) {
    if (!wait([&] { return opened_connections.size() > n; })) return nullptr;
    std::lock_guard lock(mutex);
    return opened_connections[n];
  }
};

struct WebSocketTest : ::testing::Test {
  void SetUp() override {
    log::setup("error", "text");
    io.start();
    recorder->strand = &strand;
  }
  void TearDown() override {
    route_.reset();
    server.close();
    io.stop();
  }

  void serve(WebSocketOptions options = {}) {
    auto route = server.add_websocket_owned("p", "/live", recorder, options, &executor);
    ASSERT_TRUE(route) << route.error().message;
    route_ = std::move(*route);
  }
  std::string port() const {
    const auto ep = server.local_endpoint();
    return ep.substr(ep.rfind(':') + 1);
  }

  // A Beast client, connected and upgraded (throws on failure).
  std::unique_ptr<websocket::stream<tcp::socket>> connect(const std::vector<std::string>& protocols = {},
                                                          const std::string& target = "/live") {
    auto ws = std::make_unique<websocket::stream<tcp::socket>>(client_io);
    tcp::resolver resolver(client_io);
    asio::connect(ws->next_layer(), resolver.resolve("127.0.0.1", port()));
    ws->set_option(websocket::stream_base::decorator([protocols](websocket::request_type& req) {
      std::string joined;
      for (const auto& p : protocols) joined += (joined.empty() ? "" : ", ") + p;
      if (!joined.empty()) req.set(beast::http::field::sec_websocket_protocol, joined);
      req.set(beast::http::field::authorization, "Bearer t0ken");
    }));
    ws->handshake("127.0.0.1", target);
    return ws;
  }
  static std::string read(websocket::stream<tcp::socket>& ws) {
    beast::flat_buffer buffer;
    ws.read(buffer);
    return beast::buffers_to_string(buffer.data());
  }
  // Reads `count` messages, each whole and in order: message(0), message(1)...
  static void read_in_order(websocket::stream<tcp::socket>& ws, int count,
                            const std::function<std::string(int)>& message) {
    beast::flat_buffer buffer;
    for (int i = 0; i < count; ++i) {
      beast::error_code ec;
      ws.read(buffer, ec);
      ASSERT_FALSE(ec) << "message " << i << ": " << ec.message();
      ASSERT_EQ(beast::buffers_to_string(buffer.data()), message(i)) << "message " << i;
      buffer.consume(buffer.size());
    }
  }

  runtime::Io io{2};
  runtime::Strand strand = io.make_strand();
  runtime::StrandExecutor executor{strand};
  Server server{io, config::listener_settings("test", "127.0.0.1:0")};
  std::shared_ptr<Recorder> recorder = std::make_shared<Recorder>();
  std::unique_ptr<HttpRoute> route_;
  asio::io_context client_io;
};

// A raw HTTP exchange: the answer's first bytes.
std::string raw_request(const std::string& port, const std::string& request) {
  asio::io_context io;
  tcp::socket socket(io);
  tcp::resolver resolver(io);
  asio::connect(socket, resolver.resolve("127.0.0.1", port));
  asio::write(socket, asio::buffer(request));
  std::string out(4096, '\0');
  beast::error_code ec;
  const auto n = socket.read_some(asio::buffer(out), ec);
  out.resize(ec ? 0 : n);
  return out;
}

TEST_F(WebSocketTest, MessagesFlowBothWaysWithTheHandlerOnItsStrand) {
  recorder->decide = [](const WebSocketRequest& request) {
    // The client offered two subprotocols; the handler picks the second.
    EXPECT_EQ(request.subprotocols.size(), 2u);
    return WebSocketUpgrade::accept("switchyard.v1", std::make_shared<int>(42));
  };
  serve();
  auto ws = connect({"other", "switchyard.v1"});
  auto connection = recorder->connection();
  ASSERT_TRUE(connection);
  EXPECT_EQ(connection->subprotocol(), "switchyard.v1");
  EXPECT_EQ(*static_cast<int*>(connection->attachment().get()), 42);
  EXPECT_EQ(connection->remote().rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(recorder->upgrade_headers, std::vector<std::string>{"Bearer t0ken"});

  ws->write(asio::buffer(std::string("hello")));
  EXPECT_EQ(read(*ws), "echo:hello");
  EXPECT_EQ(connection->send("pushed"), WebSocketSend::queued);
  EXPECT_EQ(read(*ws), "pushed");
  EXPECT_TRUE(ws->got_text());

  ws->close(websocket::close_reason(websocket::close_code::normal, "bye"));
  ASSERT_TRUE(recorder->wait([&] { return !recorder->closes.empty(); }));
  EXPECT_EQ(recorder->closes[0].code, 1000);
  EXPECT_EQ(recorder->closes[0].reason, "bye");
  EXPECT_EQ(connection->send("late"), WebSocketSend::closed);
  EXPECT_FALSE(recorder->off_strand) << "every callback ran on the component's strand";
}

TEST_F(WebSocketTest, TheHandlerCanRefuseAnUpgradeWithAnHttpAnswer) {
  recorder->decide = [](const WebSocketRequest&) {
    HttpResponse r = HttpResponse::error(401, "token expired");
    r.headers.set("WWW-Authenticate", "Bearer");
    return WebSocketUpgrade::refuse(std::move(r));
  };
  serve();
  const std::string answer = raw_request(
      port(), "GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << answer;
  EXPECT_NE(answer.find("WWW-Authenticate: Bearer"), std::string::npos) << answer;
  EXPECT_NE(answer.find("token expired"), std::string::npos) << answer;
  EXPECT_TRUE(recorder->opened_connections.empty());
}

TEST_F(WebSocketTest, APlainGetIsToldToUpgrade) {
  serve();
  const std::string answer = raw_request(port(), "GET /live HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 426", 0), 0u) << answer;
  EXPECT_NE(answer.find("Upgrade: websocket"), std::string::npos) << answer;
  const std::string post = raw_request(port(), "POST /live HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
}

TEST_F(WebSocketTest, AClientThatStopsReadingIsClosedWith1013WhileAnotherKeepsReceiving) {
  // The close waits for the write the slow client blocks: give the test time to read.
  serve(WebSocketOptions{.send_queue = 256 * 1024, .close_timeout = 30s});
  // Each client's connection is known before the next connects: the server's two I/O
  // threads may otherwise record them in either order.
  auto slow = connect();
  auto slow_connection = recorder->connection(0);
  auto fast = connect();
  auto fast_connection = recorder->connection(1);
  ASSERT_TRUE(slow_connection && fast_connection);

  const auto frame = std::make_shared<const std::string>(8 * 1024, 'x');
  std::size_t sent = 0;
  WebSocketSend outcome = WebSocketSend::queued;
  const auto started = std::chrono::steady_clock::now();
  while ((outcome = slow_connection->send(frame)) == WebSocketSend::queued) {
    ASSERT_EQ(fast_connection->send(frame), WebSocketSend::queued);
    EXPECT_EQ(read(*fast).size(), frame->size());
    ASSERT_LT(++sent, 100'000u) << "never overflowed";
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "sends never waited";

  EXPECT_EQ(outcome, WebSocketSend::overflow);
  EXPECT_EQ(slow_connection->send(frame), WebSocketSend::closed);
  // The fast client is unaffected.
  EXPECT_EQ(fast_connection->send("still here"), WebSocketSend::queued);
  EXPECT_EQ(read(*fast), "still here");

  // The slow client reads again: what the kernels buffered before the overflow, then the close.
  beast::flat_buffer buffer;
  beast::error_code ec;
  std::size_t read_back = 0;
  while (!ec) {
    slow->read(buffer, ec);
    if (!ec) ++read_back;
    buffer.consume(buffer.size());
  }
  EXPECT_EQ(ec, websocket::error::closed) << ec.message();
  EXPECT_EQ(slow->reason().code, 1013);
  EXPECT_LT(read_back, sent) << "what was queued past the kernel's buffers was dropped";
  ASSERT_TRUE(recorder->wait([&] { return !recorder->closes.empty(); }));
  EXPECT_EQ(recorder->closes[0].code, 1013);
}

// Frames are written by send() on the sender's thread, by the session, and by Beast (pings);
// a frame that went out in part is finished before anything else. A client that pauses
// while a sender thread floods it, with a ping due meanwhile, then reads, gets every
// message whole and in order (a frame cut by another would fail its parsing).
TEST_F(WebSocketTest, FramesFromSendersTheSessionAndPingsNeverInterleave) {
  serve(WebSocketOptions{.send_queue = 256 * 1024 * 1024, .ping_interval = 50ms, .pong_timeout = 2s});
  auto client = connect();
  auto connection = recorder->connection(0);
  ASSERT_TRUE(connection);
  auto message = [](int i) {
    const std::size_t sizes[] = {100, 1000, 20'000, 100, 1000, 70'000};  // the three header lengths
    std::string text = std::to_string(i) + ":";
    // Now and then one larger than the socket's buffers: it takes several writes.
    text.resize(i % 250 == 1 ? 3 * 1024 * 1024 : sizes[i % 6], static_cast<char>('a' + i % 26));
    return text;
  };
  constexpr int kMessages = 2000;
  int pings = 0;
  client->control_callback([&](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping) ++pings;
  });
  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_EQ(connection->send(message(i)), WebSocketSend::queued);
    }
  });
  // The socket's buffers fill: a send goes out in part, the rest queues; the session writes
  // it when the client reads again, with the ping that came meanwhile waiting for its turn.
  std::this_thread::sleep_for(300ms);
  ASSERT_NO_FATAL_FAILURE(read_in_order(*client, kMessages, message));
  sender.join();
  EXPECT_GT(pings, 0);
  EXPECT_EQ(connection->send("last"), WebSocketSend::queued);
  EXPECT_EQ(read(*client), "last");
  std::lock_guard lock(recorder->mutex);
  EXPECT_TRUE(recorder->closes.empty()) << "the client answered every ping";
}

// The client's pings are answered by Beast (a pong written at once, from the read loop)
// while send() and the session write a flood the client does not read yet: each pong
// waits for the frame being written, so every message and every pong arrives whole.
TEST_F(WebSocketTest, PongsToAClientsPingsWaitForTheFrameBeingWritten) {
  serve(WebSocketOptions{.send_queue = 256 * 1024 * 1024});
  auto client = connect();
  auto connection = recorder->connection(0);
  ASSERT_TRUE(connection);
  auto message = [](int i) {
    std::string text = std::to_string(i) + ":";
    text.resize(i % 50 == 1 ? 2 * 1024 * 1024 : 30'000, static_cast<char>('a' + i % 26));
    return text;
  };
  constexpr int kMessages = 400;
  std::atomic<int> pongs{0};
  client->control_callback([&](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::pong) ++pongs;
  });
  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i) ASSERT_EQ(connection->send(message(i)), WebSocketSend::queued);
  });
  // While the server's writes are stuck on the full socket, pings it must answer.
  constexpr int kPings = 20;
  for (int i = 0; i < kPings; ++i) {
    client->ping("p");
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_NO_FATAL_FAILURE(read_in_order(*client, kMessages, message));
  sender.join();
  EXPECT_EQ(connection->send("last"), WebSocketSend::queued);
  EXPECT_EQ(read(*client), "last");
  EXPECT_EQ(pongs.load(), kPings);
}

TEST_F(WebSocketTest, TheHeartbeatDropsAClientThatNeverAnswers) {
  serve(WebSocketOptions{.ping_interval = 100ms, .pong_timeout = 150ms});
  // A Beast client answers pings while it reads: it stays across several intervals.
  auto alive = connect();
  std::thread reader([&] {
    beast::flat_buffer buffer;
    beast::error_code ec;
    alive->read(buffer, ec);  // until the test closes it
  });
  // A raw client completes the handshake, then never reads nor answers.
  const std::string answer = raw_request(
      port(), "GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 101", 0), 0u) << answer;
  // raw_request closed its socket at once: that one ends at the first read or ping.
  ASSERT_TRUE(recorder->wait([&] { return recorder->closes.size() >= 1; }));
  EXPECT_EQ(recorder->closes[0].code, 1006);

  // Now one that stays connected without answering.
  tcp::socket silent(client_io);
  tcp::resolver resolver(client_io);
  asio::connect(silent, resolver.resolve("127.0.0.1", port()));
  asio::write(silent, asio::buffer(std::string(
                          "GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")));
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(recorder->wait([&] { return recorder->closes.size() >= 2; }));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(recorder->closes[1].code, 1006);
  EXPECT_GE(took, 200ms) << "one interval and the pong timeout";
  EXPECT_LT(took, 3s);
  // The answering client was not dropped.
  {
    std::lock_guard lock(recorder->mutex);
    EXPECT_EQ(recorder->closes.size(), 2u);
  }
  beast::error_code ignored;
  alive->next_layer().close(ignored);
  reader.join();
}

TEST_F(WebSocketTest, AMessageOverTheLimitClosesWith1009AndBinaryWith1003) {
  serve(WebSocketOptions{.max_message = 1024});
  auto big = connect();
  ASSERT_TRUE(recorder->connection(0));
  big->write(asio::buffer(std::string(2048, 'x')));
  beast::flat_buffer buffer;
  beast::error_code ec;
  big->read(buffer, ec);
  // The close frame arrives; the server may reset the socket before the client's own close
  // reply (it did not read the rest of the message), which Beast reports instead of closed.
  EXPECT_TRUE(ec);
  EXPECT_EQ(big->reason().code, 1009);
  ASSERT_TRUE(recorder->wait([&] { return recorder->closes.size() >= 1; }));
  EXPECT_EQ(recorder->closes[0].code, 1009);
  EXPECT_TRUE(recorder->messages.empty());

  auto binary = connect();
  ASSERT_TRUE(recorder->connection(1));
  binary->binary(true);
  binary->write(asio::buffer(std::string("\x01\x02", 2)));
  binary->read(buffer, ec);
  EXPECT_TRUE(ec);
  EXPECT_EQ(binary->reason().code, 1003);
  ASSERT_TRUE(recorder->wait([&] { return recorder->closes.size() >= 2; }));
  EXPECT_EQ(recorder->closes[1].code, 1003);
}

TEST_F(WebSocketTest, AWebSocketStaysCountedAgainstItsAddressesConnectionLimit) {
  auto settings = config::listener_settings("limited", "127.0.0.1:0");
  settings.max_connections_per_ip = 2;
  settings.exempt_loopback = false;
  Server limited{io, settings};
  auto route = limited.add_websocket_owned("p", "/live", recorder, {}, &executor);
  ASSERT_TRUE(route) << route.error().message;
  const auto ep = limited.local_endpoint();
  const std::string limited_port = ep.substr(ep.rfind(':') + 1);
  auto open = [&] {
    auto ws = std::make_unique<websocket::stream<tcp::socket>>(client_io);
    tcp::resolver resolver(client_io);
    asio::connect(ws->next_layer(), resolver.resolve("127.0.0.1", limited_port));
    ws->handshake("127.0.0.1", "/live");
    return ws;
  };
  auto first = open();
  auto second = open();
  ASSERT_TRUE(recorder->connection(1));
  // The HTTP sessions that carried the upgrades are gone; the WebSockets still count.
  const std::string refused = raw_request(limited_port, "GET /live HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  first->close(websocket::close_code::normal);
  ASSERT_TRUE(recorder->wait([&] { return recorder->closes.size() == 1; }));
  // Its slot is free once the WebSocket has ended.
  std::string answer;
  for (int i = 0; i < 100 && answer.rfind("HTTP/1.1 426", 0) != 0; ++i) {
    answer = raw_request(limited_port, "GET /live HTTP/1.1\r\nHost: x\r\n\r\n");
    if (answer.rfind("HTTP/1.1 426", 0) != 0) std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(answer.rfind("HTTP/1.1 426", 0), 0u) << answer;
  second->close(websocket::close_code::normal);
  ASSERT_TRUE(recorder->wait([&] { return recorder->closes.size() == 2; }));
  route->reset();
  limited.close();
}

TEST_F(WebSocketTest, RemovingTheRouteClosesItsConnectionsWith1001) {
  serve();
  auto ws = connect();
  ASSERT_TRUE(recorder->connection());
  route_.reset();
  beast::flat_buffer buffer;
  beast::error_code ec;
  ws->read(buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed) << ec.message();
  EXPECT_EQ(ws->reason().code, 1001);
  // No callback reached the handler after its route went.
  std::this_thread::sleep_for(50ms);
  std::lock_guard lock(recorder->mutex);
  EXPECT_TRUE(recorder->closes.empty());
  const std::string answer = raw_request(port(), "GET /live HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 404", 0), 0u) << answer;
}

}  // namespace
}  // namespace switchyard::http
