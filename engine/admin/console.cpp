#include "admin/console.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <vector>

#include "http/server.hpp"
#include "runtime/event_tap.hpp"
#include "runtime/io.hpp"

namespace switchyard::admin {

// console_page.cpp, generated from console.html (engine/CMakeLists.txt).
extern const char* const kConsolePage;

namespace {
constexpr auto kTick = std::chrono::milliseconds(250);  // events frames
constexpr int kTicksPerSnapshot = 4;                    // pipelines frames: every second
}  // namespace

struct Console::State : std::enable_shared_from_this<State> {
  State(runtime::Io& io, std::shared_ptr<runtime::EventTap> t, std::function<std::string()> s)
      : tap(std::move(t)), snapshot(std::move(s)), strand(io.make_strand()), timer(strand) {}

  std::shared_ptr<runtime::EventTap> tap;
  std::function<std::string()> snapshot;
  runtime::Strand strand;
  runtime::asio::steady_timer timer;  // on the strand only

  // Held while a frame is built and sent, and by stop(): once stop() returns, snapshot is
  // not running and will not run again.
  std::mutex mutex;
  bool stopped = false;
  bool ticking = false;
  int ticks = 0;
  std::uint64_t sent_version = 0;
  struct Subscriber {
    std::shared_ptr<http::EventStream> stream;
    bool payloads = false;
  };
  std::vector<Subscriber> streams;

  // Forgets the subscribers for which `gone` holds. Call with the mutex held.
  template <class Gone>
  void forget(Gone gone) {
    std::erase_if(streams, [&](const Subscriber& s) {
      if (!gone(s)) return false;
      if (s.payloads && tap) tap->watch_payloads(-1);
      return true;
    });
  }

  // Sends to every stream, forgetting those that ended. Call with the mutex held.
  void broadcast(std::string_view name, const std::string& data) {
    forget([&](const Subscriber& s) { return !s.stream->send(name, data); });
  }

  // Call with the mutex held.
  void schedule() {
    ticking = true;
    timer.expires_after(kTick);
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->tick();
    });
  }

  void start_ticking() {
    // The timer is the strand's: arm it there.
    runtime::asio::post(strand, [self = shared_from_this()] {
      std::lock_guard lock(self->mutex);
      if (!self->stopped && !self->ticking) self->schedule();
    });
  }

  void tick() {
    std::lock_guard lock(mutex);
    ticking = false;
    if (stopped) return;
    forget([](const Subscriber& s) { return !s.stream->open(); });
    if (streams.empty()) return;  // the next subscriber starts the timer again
    if (tap && tap->version() != sent_version) {
      const std::uint64_t since = sent_version;
      sent_version = tap->version();
      // Built once per kind, not once per subscriber.
      const std::string plain = tap->changes(since);
      std::string with_payloads;
      if (std::any_of(streams.begin(), streams.end(), [](const Subscriber& s) { return s.payloads; })) {
        with_payloads = tap->changes(since, true);
      }
      forget([&](const Subscriber& s) { return !s.stream->send("events", s.payloads ? with_payloads : plain); });
    }
    if (++ticks % kTicksPerSnapshot == 0) broadcast("pipelines", snapshot());
    if (!streams.empty()) schedule();
  }
};

Console::Console(runtime::Io& io, std::shared_ptr<runtime::EventTap> tap, std::function<std::string()> snapshot)
    : state_(std::make_shared<State>(io, std::move(tap), std::move(snapshot))) {}

Console::~Console() { stop(); }

std::optional<HttpResponse> Console::subscribe(std::shared_ptr<http::EventStream> stream, bool payloads) {
  auto& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    if (s.stopped) return HttpResponse::unavailable("the admin API is stopping", 5);
    s.forget([](const State::Subscriber& st) { return !st.stream->open(); });
    if (s.streams.size() >= kMaxSubscribers) {
      return HttpResponse::unavailable("too many console streams are open", 10);
    }
    stream->comment("switchyard live console");
    stream->send("pipelines", s.snapshot());
    stream->send("events", s.tap ? s.tap->changes(0, payloads) : std::string(R"({"version":0,"skipped":0,"events":[]})"));
    if (payloads && s.tap) s.tap->watch_payloads(1);
    s.streams.push_back(State::Subscriber{std::move(stream), payloads});
  }
  s.start_ticking();
  return std::nullopt;
}

void Console::stop() {
  std::vector<State::Subscriber> streams;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopped) return;
    state_->stopped = true;
    streams.swap(state_->streams);
  }
  for (auto& s : streams) {
    if (s.payloads && state_->tap) state_->tap->watch_payloads(-1);
    s.stream->close();
  }
}

HttpResponse Console::page() {
  HttpResponse r;
  r.headers.set("Content-Type", "text/html; charset=utf-8");
  // Self-contained: no request leaves for another origin, and nothing from an event can run.
  r.headers.set("Content-Security-Policy",
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
                "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  r.headers.set("Referrer-Policy", "no-referrer");  // the page's URL may carry ?token=
  r.headers.set("X-Content-Type-Options", "nosniff");
  r.headers.set("Cache-Control", "no-store");
  r.body = kConsolePage;
  return r;
}

}  // namespace switchyard::admin
