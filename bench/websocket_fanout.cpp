// Load generator for the websocket sink (run by bench/websocket_fanout.sh, which starts the
// engine): N Beast clients connect and subscribe to one room, then
//   memory   the engine's resident memory (VmRSS of --pid) before and after, per connection;
//   latency  B broadcasts, one at a time: an event posted to the engine's http source, and
//            the time from just before the POST until each client has it (p50, p99, max);
//   fan-out  F events posted back to back: messages received per second, from the first
//            POST to the last arrival; every client must get all F, in order.
// All clients run on one thread here, sharing the machine with the engine: the last client
// of a broadcast also waits for this thread to read the messages of all the others.
//
// Usage: websocket_fanout_bench --port P --pid PID [--clients N] [--broadcasts B] [--flood F]
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <unistd.h>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Settings {
  std::string port;
  int pid = 0;
  int clients = 1000;
  int broadcasts = 30;
  int flood = 100;
  int connecting = 200;  // handshakes in flight at once
};

// CPU seconds (user + system) process `pid` has used.
double cpu_seconds(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt (fields 3-13)
  double utime = 0, stime = 0;
  fields >> utime >> stime;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Kilobytes of resident memory of process `pid`.
long rss_kb(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

struct Shared {
  explicit Shared(const Settings& s) : settings(s), latency_ns(static_cast<std::size_t>(s.broadcasts * s.clients)),
                                       broadcast_arrivals(static_cast<std::size_t>(s.broadcasts)),
                                       t0(static_cast<std::size_t>(s.broadcasts)) {}
  const Settings& settings;
  std::atomic<int> subscribed{0}, failed{0}, out_of_order{0};
  std::vector<std::int64_t> latency_ns;  // [broadcast * clients + client], written by the io thread
  std::vector<std::atomic<int>> broadcast_arrivals;
  std::vector<std::atomic<std::int64_t>> t0;  // ns since epoch of the steady clock
  std::atomic<long> flood_arrivals{0};
  std::atomic<std::int64_t> last_arrival_ns{0};
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// The event id in an {"op":"event",...,"event":{...,"id":"<id>",...}} message.
std::string_view event_id(std::string_view text) {
  const auto at = text.find("\"id\":\"");
  if (at == std::string_view::npos) return {};
  const auto start = at + 6;
  return text.substr(start, text.find('"', start) - start);
}

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& io, Shared& shared, int index, std::function<void()> connected)
      : ws_(asio::make_strand(io)), shared_(shared), index_(index), connected_(std::move(connected)) {}

  void start(const tcp::endpoint& endpoint) {
    beast::get_lowest_layer(ws_).async_connect(endpoint, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->fail("connect", ec);
      beast::get_lowest_layer(self->ws_).expires_never();
      self->ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
      self->ws_.async_handshake("127.0.0.1", "/live", [self](beast::error_code ec) {
        if (ec) return self->fail("handshake", ec);
        self->ws_.async_write(asio::buffer(std::string_view(R"({"op":"subscribe","room":"all"})")),
                              [self](beast::error_code ec, std::size_t) {
                                if (ec) return self->fail("subscribe", ec);
                                self->read();
                              });
      });
    });
  }

 private:
  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("read", ec);
      self->on_message(std::string_view(static_cast<const char*>(self->buffer_.data().data()), self->buffer_.size()));
      self->buffer_.consume(self->buffer_.size());
      self->read();
    });
  }

  void on_message(std::string_view text) {
    const std::int64_t at = now_ns();
    if (text.find(R"("op":"subscribed")") != std::string_view::npos) {
      shared_.subscribed.fetch_add(1);
      connected_();
      return;
    }
    const std::string_view id = event_id(text);
    if (id.size() < 2) return;
    const int n = std::atoi(std::string(id.substr(1)).c_str());
    if (id[0] == 'b' && n >= 0 && n < shared_.settings.broadcasts) {
      shared_.latency_ns[static_cast<std::size_t>(n) * shared_.settings.clients + index_] =
          at - shared_.t0[static_cast<std::size_t>(n)].load();
      shared_.broadcast_arrivals[static_cast<std::size_t>(n)].fetch_add(1, std::memory_order_release);
    } else if (id[0] == 'f') {
      if (n != last_flood_ + 1) shared_.out_of_order.fetch_add(1);
      last_flood_ = n;
      std::int64_t last = shared_.last_arrival_ns.load();
      while (at > last && !shared_.last_arrival_ns.compare_exchange_weak(last, at)) {
      }
      shared_.flood_arrivals.fetch_add(1, std::memory_order_release);
    }
  }

  void fail(const char* what, beast::error_code ec) {
    if (!done_) {
      done_ = true;
      if (shared_.failed.fetch_add(1) < 5) std::fprintf(stderr, "client %d: %s: %s\n", index_, what, ec.message().c_str());
      connected_();
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  Shared& shared_;
  int index_;
  std::function<void()> connected_;
  int last_flood_ = -1;
  bool done_ = false;
};

// Posts events to the engine's http source over one keep-alive connection.
class Poster {
 public:
  explicit Poster(const std::string& port) : socket_(io_) {
    tcp::resolver resolver(io_);
    asio::connect(socket_, resolver.resolve("127.0.0.1", port));
    socket_.set_option(tcp::no_delay(true));
  }
  void post(const std::string& id) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/in", 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::content_type, "application/json");
    req.set("X-Request-Id", id);
    req.body() = R"({"room":"all","workflow_run":{"id":30433642,"name":"CI","status":"completed","conclusion":"success",)"
                 R"("head_branch":"main","html_url":"https://github.com/octo-org/hello-service/actions/runs/30433642",)"
                 R"("display_title":"Fix the health check timeout"},"sender":{"login":"mona"}})";
    req.prepare_payload();
    bhttp::write(socket_, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket_, buffer_, res);
    if (res.result_int() != 202) throw std::runtime_error("POST answered " + std::to_string(res.result_int()));
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

template <class Pred>
bool wait_until(Pred pred, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

double percentile(std::vector<std::int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return static_cast<double>(v[i]) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--port") s.port = value;
    else if (flag == "--pid") s.pid = std::atoi(value.c_str());
    else if (flag == "--clients") s.clients = std::atoi(value.c_str());
    else if (flag == "--broadcasts") s.broadcasts = std::atoi(value.c_str());
    else if (flag == "--flood") s.flood = std::atoi(value.c_str());
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (s.port.empty() || s.pid <= 0) {
    std::fprintf(stderr, "usage: websocket_fanout_bench --port P --pid PID [--clients N] [--broadcasts B] [--flood F]\n");
    return 2;
  }

  Shared shared(s);
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(s.port)));
  Poster poster(s.port);
  poster.post("warmup");  // the engine's first event allocates what later ones reuse
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long rss_before = rss_kb(s.pid);

  // Connect, a bounded number of handshakes at a time.
  std::atomic<int> launched{0};
  std::function<void()> launch_next = [&] {
    const int i = launched.fetch_add(1);
    if (i >= s.clients) return;
    auto client = std::make_shared<Client>(io, shared, i, [&] { asio::post(io, launch_next); });
    client->start(endpoint);
  };
  const auto connect_start = Clock::now();
  for (int i = 0; i < std::min(s.connecting, s.clients); ++i) asio::post(io, launch_next);
  if (!wait_until([&] { return shared.subscribed + shared.failed >= s.clients; }, std::chrono::seconds(120))) {
    std::fprintf(stderr, "only %d of %d clients subscribed\n", shared.subscribed.load(), s.clients);
    return 1;
  }
  const double connect_s = std::chrono::duration<double>(Clock::now() - connect_start).count();
  if (shared.failed > 0) {
    std::fprintf(stderr, "%d clients failed\n", shared.failed.load());
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // idle: let the engine settle
  const long rss_after = rss_kb(s.pid);

  // Latency: one broadcast at a time.
  std::vector<std::int64_t> all, lasts;
  for (int b = 0; b < s.broadcasts; ++b) {
    shared.t0[static_cast<std::size_t>(b)] = now_ns();
    poster.post("b" + std::to_string(b));
    if (!wait_until([&] { return shared.broadcast_arrivals[static_cast<std::size_t>(b)].load(std::memory_order_acquire) >= s.clients; },
                    std::chrono::seconds(30))) {
      std::fprintf(stderr, "broadcast %d reached %d of %d clients\n", b, shared.broadcast_arrivals[static_cast<std::size_t>(b)].load(), s.clients);
      return 1;
    }
    std::int64_t last = 0;
    for (int c = 0; c < s.clients; ++c) {
      const auto v = shared.latency_ns[static_cast<std::size_t>(b) * s.clients + c];
      all.push_back(v);
      last = std::max(last, v);
    }
    lasts.push_back(last);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  // Fan-out: events back to back.
  const double engine_cpu_before = cpu_seconds(s.pid), own_cpu_before = cpu_seconds(getpid());
  const std::int64_t flood_start = now_ns();
  for (int f = 0; f < s.flood; ++f) poster.post("f" + std::to_string(f));
  const long expected = static_cast<long>(s.flood) * s.clients;
  if (!wait_until([&] { return shared.flood_arrivals.load(std::memory_order_acquire) >= expected; }, std::chrono::seconds(120))) {
    std::fprintf(stderr, "fan-out: %ld of %ld messages arrived\n", shared.flood_arrivals.load(), expected);
    return 1;
  }
  const double flood_s = static_cast<double>(shared.last_arrival_ns - flood_start) / 1e9;
  const double engine_cpu = cpu_seconds(s.pid) - engine_cpu_before, own_cpu = cpu_seconds(getpid()) - own_cpu_before;

  std::printf("clients %d: connect %.1f s; engine RSS %ld -> %ld KiB (%.1f KiB per idle connection); "
              "broadcast latency p50 %.1f ms, p99 %.1f ms, max %.1f ms (last client: p50 %.1f ms); "
              "fan-out %d events -> %ld messages in %.2f s = %.0f messages/s (CPU per message: engine %.1f us, "
              "clients %.1f us); out of order: %d\n",
              s.clients, connect_s, rss_before, rss_after,
              static_cast<double>(rss_after - rss_before) / s.clients, percentile(all, 0.50), percentile(all, 0.99),
              percentile(all, 1.0), percentile(lasts, 0.50), s.flood, expected, flood_s,
              static_cast<double>(expected) / flood_s, engine_cpu * 1e6 / static_cast<double>(expected),
              own_cpu * 1e6 / static_cast<double>(expected), shared.out_of_order.load());
  work.reset();
  io.stop();
  io_thread.join();
  return shared.out_of_order > 0 ? 1 : 0;
}
