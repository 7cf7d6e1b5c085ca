#include "connection/connection.hpp"

#include <dlfcn.h>
#include <nats/version.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "connection/lane.hpp"
#include "connection/nkey.hpp"

namespace switchyard::nats {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// How long close() gives the server to take what was sent before the connection closes.
constexpr milliseconds kFlushGrace = 1s;
// Errors libnats reports asynchronously (a slow consumer, a permission denied) are logged at
// most this often.
constexpr auto kErrorLogInterval = 10s;


// Keeps the plugin and libnats mapped for the life of the process. A teardown that outlasts
// stop() runs plugin code on its own thread, and libnats keeps threads of its own (timers,
// callbacks) once used: unloading either under them would crash the process at exit.
void pin_libraries() {
  static std::once_flag once;
  std::call_once(once, [] {
    static const char kHere = 0;
    Dl_info info{};
    if (::dladdr(&kHere, &info) != 0 && info.dli_fname != nullptr) {
      ::dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
    const std::string nats = "libnats.so." + std::to_string(NATS_VERSION_MAJOR) + "." + std::to_string(NATS_VERSION_MINOR);
    ::dlopen(nats.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  });
}

}  // namespace

namespace {
struct Anchor;
}  // namespace

struct Connection::Shared {
  ConnectionSettings settings;
  Context* context = nullptr;  // only while the gate lets a caller in
  Callbacks callbacks;
  HttpGate gate;
  std::vector<std::unique_ptr<Lane>> lanes;
  std::optional<NKey> nkey;
  std::atomic<bool> up{false};
  std::atomic<bool> closing{false};
  // libnats may report the first connection (on its own thread) before lane 0 has stored
  // the handles: the news waits for them.
  std::mutex link_mutex;
  bool link_ready = false;
  bool up_pending = false;
  mutable std::mutex url_mutex;
  std::string url;
  std::mutex errors_mutex;
  std::chrono::steady_clock::time_point last_error_log{};
  std::string failure_said;  // why no server answered, as last logged; cleared once connected
  int give_ups = 0;          // times libnats gave up since the last connection; cleared once connected
  std::string give_up_said;  // why, as last logged
  // A new reason to log (a round of attempts ran into something else than last said).
  bool new_failure(const std::string& why) {
    std::lock_guard lock(errors_mutex);
    if (why.empty() || why == failure_said) return false;
    failure_said = why;
    return true;
  }
  void connected() {
    std::lock_guard lock(errors_mutex);
    failure_said.clear();
    give_ups = 0;
    give_up_said.clear();
  }
  // Counts a give-up; whether to log it: the first, every 20th, and whenever the reason
  // changes. libnats's own "No server available for connection" (what it says when its
  // reconnecting thread kept the server's answer to itself) does not replace a reason said.
  bool new_give_up(std::string& why) {
    std::lock_guard lock(errors_mutex);
    if (why == natsStatus_GetText(NATS_NO_SERVER) && !give_up_said.empty()) why = give_up_said;
    ++give_ups;
    const bool say = give_ups == 1 || give_ups % 20 == 0 || why != give_up_said;
    give_up_said = why;
    return say;
  }

  // Lane 0 only (other lanes read it while their jobs run; restart() parks them first).
  Link link;
  Anchor* anchor = nullptr;  // set by open()

  // The teardown's end, and the connect loop's wait.
  std::mutex done_mutex;
  std::condition_variable done_changed;
  bool done = false;

  Gauge* connected_gauge = nullptr;
  Counter* reconnects = nullptr;
  Counter* disconnects = nullptr;
  Counter* lame_ducks = nullptr;

  void to_strand(std::function<void()> task) {
    if (auto pass = gate.enter()) context->executor().post(std::move(task));
  }
  void log(LogLevel level, std::string message) {
    if (auto pass = gate.enter()) {
      Context* c = context;
      c->executor().post([c, level, message = std::move(message)] { c->logger().log(level, message); });
    }
  }
  void set_url(natsConnection* nc) {
    char buffer[256] = {};
    if (nc != nullptr && natsConnection_GetConnectedUrl(nc, buffer, sizeof buffer) == NATS_OK && buffer[0] != '\0') {
      std::lock_guard lock(url_mutex);
      url = buffer;
    }
  }
  std::string server() const {
    std::lock_guard lock(url_mutex);
    return url.empty() ? settings.servers.front() : url;
  }
  void state(bool now_up) {
    up = now_up;
    if (auto pass = gate.enter()) {
      connected_gauge->set(now_up ? 1 : 0);
      // Readiness: an ingest engine that cannot publish should get no webhooks.
      context->report_health(now_up ? std::nullopt
                                    : std::optional<std::string>("NATS: not connected (" + server() + "); reconnecting"));
      if (callbacks.state) context->executor().post([cb = callbacks.state, now_up] { cb(now_up); });
    }
  }
};

namespace {

using Shared = Connection::Shared;

// libnats calls back with a closure pointer, possibly after the connection is destroyed
// (its callbacks are queued on threads of its own). The closure is an Anchor that lives as
// long as the process, holding a weak reference: a late callback finds nothing and returns.
struct Anchor {
  std::weak_ptr<Shared> shared;
};

Anchor* anchor_for(const std::shared_ptr<Shared>& shared) {
  static std::mutex mutex;
  static auto* anchors = new std::vector<std::unique_ptr<Anchor>>();  // never freed: see Anchor
  std::lock_guard lock(mutex);
  anchors->push_back(std::make_unique<Anchor>(Anchor{shared}));
  return anchors->back().get();
}

std::shared_ptr<Shared> from(void* closure) { return static_cast<Anchor*>(closure)->shared.lock(); }

// Half fixed, half random: engines that lost the same server do not come back in step.
milliseconds jittered(milliseconds delay) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const auto half = delay.count() / 2;
  return milliseconds(half + static_cast<int64_t>(random() % static_cast<std::uint64_t>(half + 1)));
}

void restart(const std::shared_ptr<Shared>& s);

void on_connected(natsConnection* nc, void* closure) {
  auto s = from(closure);
  if (!s) return;
  {
    std::lock_guard lock(s->link_mutex);
    if (!s->link_ready) {
      s->up_pending = true;
      return;
    }
  }
  s->set_url(nc);
  s->connected();
  s->log(LogLevel::info, "connected to " + s->server());
  s->state(true);
}

void on_reconnected(natsConnection* nc, void* closure) {
  auto s = from(closure);
  if (!s) return;
  s->set_url(nc);
  s->connected();
  if (auto pass = s->gate.enter()) s->reconnects->inc();
  s->log(LogLevel::info, "reconnected to " + s->server());
  s->state(true);
}

void on_disconnected(natsConnection*, void* closure) {
  auto s = from(closure);
  if (!s || s->closing) return;
  if (auto pass = s->gate.enter()) s->disconnects->inc();
  s->log(LogLevel::warn, "lost the connection to " + s->server() + "; reconnecting to the cluster");
  s->state(false);
}

void on_closed(natsConnection* nc, void* closure) {
  auto s = from(closure);
  if (!s) return;
  s->up = false;
  if (auto pass = s->gate.enter()) s->connected_gauge->set(0);
  if (s->closing) return;
  // libnats stops trying once every server refused the connection's credentials (its
  // own error then only says no server is left): the reason logged before is the one.
  std::string why;
  {
    std::lock_guard lock(s->errors_mutex);
    why = s->failure_said;
  }
  if (why.empty()) {
    const char* text = nullptr;
    natsConnection_GetLastError(nc, &text);
    if (text != nullptr) why = text;
  }
  if (why.empty()) why = "no answer";
  // A daemon does not give up: the credentials may be fixed on the server, or the refusal
  // may have been the server's or libnats's passing fault. A new connection is made after
  // the longest reconnect back-off, for as long as the component runs.
  const milliseconds wait = jittered(s->settings.reconnect_max);
  if (s->new_give_up(why)) {
    s->log(LogLevel::error, "the NATS client gave up connecting (" + why + "); starting over with a new connection in " +
                                human(wait) + ", and every " + human(s->settings.reconnect_max) +
                                " after (said again at every 20th time or a new reason)");
  }
  if (auto pass = s->gate.enter()) s->context->report_health("NATS: the client gave up connecting (" + why + "); starting over");
  s->lanes[0]->post_after(wait, [keep = s] { restart(keep); });
}

void on_lame_duck(natsConnection*, void* closure) {
  auto s = from(closure);
  if (!s) return;
  if (auto pass = s->gate.enter()) s->lame_ducks->inc();
  // The server closes its clients over its lame-duck duration; libnats moves to another
  // server then (it has learnt the cluster's servers from this one).
  s->log(LogLevel::warn, s->server() + " is shutting down (lame-duck mode); moving to another server of the cluster");
}

void on_async_error(natsConnection* nc, natsSubscription*, natsStatus err, void* closure) {
  auto s = from(closure);
  if (!s) return;
  {
    std::lock_guard lock(s->errors_mutex);
    const auto now = std::chrono::steady_clock::now();
    if (now - s->last_error_log < kErrorLogInterval) return;
    s->last_error_log = now;
  }
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  s->log(LogLevel::warn, std::string("NATS error: ") + natsStatus_GetText(err) +
                             (text != nullptr && text[0] != '\0' ? std::string(" (") + text + ")" : std::string()));
}

// What the last connection attempt ran into: this thread's error (libnats's reconnecting
// thread keeps the server's -ERR there, "Authorization Violation"), else the connection's.
// Empty before any attempt failed.
std::string last_failure(natsConnection* nc) {
  const char* why = nats_GetLastError(nullptr);
  if ((why == nullptr || why[0] == '\0') && nc != nullptr) natsConnection_GetLastError(nc, &why);
  return why != nullptr ? std::string(why) : std::string();
}

// Called by libnats's reconnecting thread, without the connection's lock, before each round.
int64_t reconnect_delay(natsConnection* nc, int attempts, void* closure) {
  auto s = from(closure);
  if (!s) return 1000;
  const auto& cfg = s->settings;
  milliseconds delay = cfg.reconnect_initial;
  for (int i = 1; i < attempts && delay < cfg.reconnect_max; ++i) delay *= 2;
  delay = std::min(delay, cfg.reconnect_max);
  const auto wait = jittered(delay).count();
  // Said at the first round, every 20th, and whenever the reason changes: the first
  // connect may only have seen "no server available" before the server refused the user.
  const std::string why = last_failure(nc);
  if (s->new_failure(why) || attempts == 1 || attempts % 20 == 0) {
    s->log(LogLevel::warn, "no NATS server of " + std::to_string(cfg.servers.size()) + " answered yet (" +
                               (why.empty() ? std::string("no answer") : why) + "; round " + std::to_string(attempts) +
                               " of reconnect attempts); next round in " + human(milliseconds(wait)));
  }
  return wait;
}

natsStatus sign_nonce(char** error_text, unsigned char** signature, int* length, const char* nonce, void* closure) {
  auto s = from(closure);
  if (!s || !s->nkey) {
    *error_text = ::strdup("no NKey to sign with");
    return NATS_ERR;
  }
  const auto signed_nonce = s->nkey->sign(nonce);
  *signature = static_cast<unsigned char*>(std::malloc(signed_nonce.size()));  // libnats frees it
  if (*signature == nullptr) return NATS_NO_MEMORY;
  std::memcpy(*signature, signed_nonce.data(), signed_nonce.size());
  *length = static_cast<int>(signed_nonce.size());
  return NATS_OK;
}

void on_publish_ack(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  if (auto s = from(closure)) {
    if (auto pass = s->gate.enter()) {
      if (s->callbacks.publish_ack) s->callbacks.publish_ack(msg, ack, error);
    }
  }
  natsMsg_Destroy(msg);
}

// The libnats options of `s`; nullptr with `error` set when libnats refuses one.
natsOptions* make_options(Shared& s, Anchor* anchor, std::string& error) {
  natsOptions* o = nullptr;
  if (natsOptions_Create(&o) != NATS_OK) {
    error = describe(NATS_NO_MEMORY);
    return nullptr;
  }
  const auto& cfg = s.settings;
  std::vector<const char*> urls;
  for (const auto& url : cfg.servers) urls.push_back(url.c_str());
  natsStatus st = natsOptions_SetServers(o, urls.data(), static_cast<int>(urls.size()));
  if (st == NATS_OK) st = natsOptions_SetName(o, cfg.name.c_str());
  if (st == NATS_OK) st = natsOptions_SetTimeout(o, cfg.timeout.count());
  if (st == NATS_OK) st = natsOptions_SetMaxReconnect(o, -1);
  if (st == NATS_OK) st = natsOptions_SetCustomReconnectDelay(o, &reconnect_delay, anchor);
  if (st == NATS_OK) st = natsOptions_SetRetryOnFailedConnect(o, true, &on_connected, anchor);
  if (st == NATS_OK) st = natsOptions_SetDisconnectedCB(o, &on_disconnected, anchor);
  if (st == NATS_OK) st = natsOptions_SetReconnectedCB(o, &on_reconnected, anchor);
  if (st == NATS_OK) st = natsOptions_SetClosedCB(o, &on_closed, anchor);
  if (st == NATS_OK) st = natsOptions_SetLameDuckModeCB(o, &on_lame_duck, anchor);
  if (st == NATS_OK) st = natsOptions_SetErrorHandler(o, &on_async_error, anchor);
  // Requests (the JetStream API) fail at once when the connection drops instead of waiting
  // out their timeout; the caller retries on the next server.
  if (st == NATS_OK) st = natsOptions_SetFailRequestsOnDisconnect(o, true);
  // A server that stops answering without closing the socket is given up after ~30 s.
  if (st == NATS_OK) st = natsOptions_SetPingInterval(o, 10000);
  if (st == NATS_OK) st = natsOptions_SetMaxPingsOut(o, 3);
  if (st == NATS_OK && cfg.tls) st = natsOptions_SetSecure(o, true);
  if (st == NATS_OK && !cfg.ca_file.empty()) st = natsOptions_LoadCATrustedCertificates(o, cfg.ca_file.c_str());
  if (st == NATS_OK && !cfg.cert_file.empty()) {
    st = natsOptions_LoadCertificatesChain(o, cfg.cert_file.c_str(), cfg.key_file.c_str());
  }
  if (st == NATS_OK && !cfg.credentials.empty()) {
    st = natsOptions_SetUserCredentialsFromFiles(o, cfg.credentials.c_str(), nullptr);
  }
  if (st == NATS_OK && s.nkey) st = natsOptions_SetNKey(o, s.nkey->public_key().c_str(), &sign_nonce, anchor);
  if (st == NATS_OK && !cfg.token.empty()) st = natsOptions_SetToken(o, cfg.token.c_str());
  if (st == NATS_OK && !cfg.username.empty()) {
    st = natsOptions_SetUserInfo(o, cfg.username.c_str(), cfg.password.c_str());
  }
  if (st != NATS_OK) {
    error = describe(st);
    natsOptions_Destroy(o);
    return nullptr;
  }
  return o;
}

// Lane 0: connects (libnats retries unreachable servers in the background), then makes the
// JetStream context. A refused option (an unreadable CA file) is retried slowly: an
// operator may fix the file.
void connect(const std::shared_ptr<Shared>& s, Anchor* anchor) {
  for (;;) {
    std::string error;
    natsOptions* options = make_options(*s, anchor, error);
    natsConnection* nc = nullptr;
    natsStatus st = NATS_ERR;
    if (options != nullptr) {
      st = natsConnection_Connect(&nc, options);
      if (st != NATS_OK && st != NATS_NOT_YET_CONNECTED) error = describe(st);
      natsOptions_Destroy(options);
    }
    if (st == NATS_OK || st == NATS_NOT_YET_CONNECTED) {
      jsOptions jo;
      jsOptions_Init(&jo);
      jo.Wait = s->settings.timeout.count();
      jo.PublishAsync.AckHandler = &on_publish_ack;
      jo.PublishAsync.AckHandlerClosure = anchor;
      if (natsConnection_JetStream(&s->link.jetstream, nc, &jo) != NATS_OK) {
        s->log(LogLevel::error, "cannot make a JetStream context: " + describe(NATS_NO_MEMORY));
      }
      s->link.connection = nc;
      bool up = st == NATS_OK;
      {
        std::lock_guard lock(s->link_mutex);
        s->link_ready = true;
        up = up || s->up_pending;
      }
      if (up) {
        on_connected(nc, anchor);
      } else {
        // This thread's last error says what the attempt ran into ("Authorization
        // Violation", a TLS failure); the connection's may already be libnats's own
        // giving up ("No server available for connection") by now.
        const std::string why = last_failure(nc);
        const bool news = s->new_failure(why);
        bool started_over = false;
        {
          std::lock_guard lock(s->errors_mutex);
          started_over = s->give_ups > 0;
        }
        if (news || !started_over) s->log(LogLevel::warn, "no NATS server of " + std::to_string(s->settings.servers.size()) + " answered yet (" +
                                   (why.empty() ? std::string("no answer") : why) + "); retrying in the background");
      }
      return;
    }
    s->log(LogLevel::error, "cannot set up the NATS connection: " + error + "; trying again in " +
                                human(s->settings.reconnect_max));
    std::unique_lock lock(s->done_mutex);
    if (s->done_changed.wait_for(lock, s->settings.reconnect_max, [&] { return s->closing.load(); })) return;
  }
}

// Lane 0, after libnats gave up: parks the other lanes (their jobs in progress end first;
// with the connection closed, a fetch returns at once), frees what they used with the old
// connection (Callbacks::lanes_done), and connects anew before letting them go on.
void restart(const std::shared_ptr<Shared>& s) {
  if (s->closing) return;
  struct Barrier {
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t parked = 0;
    bool released = false;
  };
  auto barrier = std::make_shared<Barrier>();
  const std::size_t others = s->lanes.size() - 1;
  for (std::size_t i = 1; i < s->lanes.size(); ++i) {
    s->lanes[i]->post([barrier] {
      std::unique_lock lock(barrier->mutex);
      ++barrier->parked;
      barrier->changed.notify_all();
      barrier->changed.wait(lock, [&] { return barrier->released; });
    });
  }
  const auto release = [&] {
    {
      std::lock_guard lock(barrier->mutex);
      barrier->released = true;
    }
    barrier->changed.notify_all();
  };
  {
    std::unique_lock lock(barrier->mutex);
    // A closing connection does not wait for them (teardown ends the lanes).
    while (barrier->parked < others && !s->closing) barrier->changed.wait_for(lock, 100ms);
  }
  if (s->closing) return release();
  Link& link = s->link;
  if (s->callbacks.replacing) {
    if (auto pass = s->gate.enter()) s->callbacks.replacing(link);
  }
  if (s->callbacks.lanes_done) s->callbacks.lanes_done(link);
  jsCtx_Destroy(link.jetstream);
  natsConnection_Destroy(link.connection);
  link = {};
  {
    std::lock_guard lock(s->link_mutex);
    s->link_ready = false;
    s->up_pending = false;
  }
  connect(s, s->anchor);
  release();
}

// Lane 0, last job: says what is left to say, ends the other lanes, flushes and closes.
void teardown(const std::shared_ptr<Shared>& s) {
  Link& link = s->link;
  if (s->callbacks.closing) s->callbacks.closing(link);
  for (std::size_t i = 1; i < s->lanes.size(); ++i) {
    s->lanes[i]->finish();
    if (s->lanes[i]->thread.joinable()) s->lanes[i]->thread.join();
  }
  if (s->callbacks.lanes_done) s->callbacks.lanes_done(link);
  if (link.connection != nullptr) {
    // Acknowledgements and publishes still in the buffer reach the server first.
    if (natsConnection_Status(link.connection) == NATS_CONN_STATUS_CONNECTED) {
      natsConnection_FlushTimeout(link.connection, std::min(kFlushGrace, s->settings.timeout).count());
    }
    natsConnection_Close(link.connection);
  }
  jsCtx_Destroy(link.jetstream);
  natsConnection_Destroy(link.connection);
  link = {};
  s->lanes[0]->finish();
  {
    std::lock_guard lock(s->done_mutex);
    s->done = true;
  }
  s->done_changed.notify_all();
}

}  // namespace

std::string describe(natsStatus status) {
  std::string text = natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (last == status && detail != nullptr && detail[0] != '\0' && text != detail) text += ": " + std::string(detail);
  return text;
}

Connection::Connection(ConnectionSettings settings, Context& context, Callbacks callbacks, int lanes)
    : shared_(std::make_shared<Shared>()) {
  pin_libraries();
  Shared& s = *shared_;
  s.settings = std::move(settings);
  s.context = &context;
  s.callbacks = std::move(callbacks);
  if (!s.settings.nkey_seed.empty()) {
    if (auto key = NKey::from_seed(s.settings.nkey_seed)) s.nkey.emplace(std::move(*key));
  }
  auto& m = context.metrics();
  s.connected_gauge = &m.gauge("switchyard_nats_connected", "1 while the component's NATS connection is up, else 0.");
  s.connected_gauge->set(0);
  s.reconnects = &m.counter("switchyard_nats_reconnects_total", "Connections re-established to a NATS server after a loss.");
  s.disconnects = &m.counter("switchyard_nats_disconnects_total", "Connections to a NATS server lost.");
  s.lame_ducks = &m.counter("switchyard_nats_lame_duck_total",
                            "Times the connected NATS server announced it is shutting down (lame-duck mode).");
  for (int i = 0; i < std::max(lanes, 1); ++i) {
    auto lane = std::make_unique<Lane>();
    Lane* raw = lane.get();
    s.lanes.push_back(std::move(lane));
    // The thread keeps everything it uses alive, even past stop().
    raw->thread = std::thread([keep = shared_, raw] { raw->loop(); });
  }
}

Connection::~Connection() {
  if (!shared_->closing) close(0ms);
}

void Connection::open() {
  Anchor* anchor = anchor_for(shared_);
  shared_->anchor = anchor;
  std::string servers;
  for (const auto& server : shared_->settings.servers) servers += (servers.empty() ? "" : ", ") + server;
  shared_->context->report_health("NATS: connecting to " + servers);  // cleared once connected
  shared_->lanes[0]->post([s = shared_, anchor] { connect(s, anchor); });
}

void Connection::run(int lane, std::function<void(Link&)> job) {
  Shared* s = shared_.get();
  s->lanes.at(static_cast<std::size_t>(lane))->post([s, job = std::move(job)] { job(s->link); });
}

void Connection::to_strand(std::function<void()> task) { shared_->to_strand(std::move(task)); }
Connection::Poster Connection::poster() const {
  return [s = shared_](std::function<void()> task) { s->to_strand(std::move(task)); };
}
void Connection::log(LogLevel level, std::string message) { shared_->log(level, std::move(message)); }
bool Connection::connected() const { return shared_->up; }
std::string Connection::server() const { return shared_->server(); }
bool Connection::closing() const { return shared_->closing; }
const ConnectionSettings& Connection::settings() const { return shared_->settings; }

bool Connection::close(milliseconds grace) {
  Shared& s = *shared_;
  if (s.closing.exchange(true)) return true;
  s.done_changed.notify_all();  // a connect loop waiting to try again gives up
  s.lanes[0]->post([keep = shared_] { teardown(keep); });
  bool finished = false;
  {
    std::unique_lock lock(s.done_mutex);
    finished = s.done_changed.wait_for(lock, grace, [&] { return s.done; });
  }
  s.gate.close();  // from here on nothing reaches the component
  if (finished) {
    if (s.lanes[0]->thread.joinable()) s.lanes[0]->thread.join();
  } else if (s.lanes[0]->thread.joinable()) {
    // Still flushing or waiting for a server: it ends on its own; it holds what it uses.
    s.lanes[0]->thread.detach();
  }
  return finished;
}

}  // namespace switchyard::nats
