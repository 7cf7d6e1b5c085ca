#include "client.hpp"

#include "dialogue.hpp"

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

// Spelt with three Ls before curl 8.2.0 (bookworm has 7.88).
#ifndef CURLOPT_MAIL_RCPT_ALLOWFAILS
#define CURLOPT_MAIL_RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLLOWFAILS
#endif

namespace switchyard::smtp {
namespace {

using namespace std::chrono_literals;

// A connection idle for longer is not reused: servers drop idle clients after a minute or
// more (Postfix: 300 s), and a message sent just as the server hangs up would fail.
constexpr long kMaxIdleSeconds = 30;
// How long stop() lets connections say QUIT before it cuts them.
constexpr auto kQuitGrace = 1s;

}  // namespace

struct ConnectionPool::Shared {
  ServerSettings settings;
  std::size_t size = 1;
  std::function<void(std::function<void()>)> post;

  struct Job {
    Envelope envelope;
    std::function<void(Outcome)> done;
  };
  std::mutex mutex;
  std::condition_variable wake;    // a job or stop for the workers
  std::condition_variable exited;  // a worker ended, for stop()
  std::deque<Job> jobs;
  std::size_t workers = 0;  // started
  std::size_t idle = 0;     // waiting for a job
  std::size_t running = 0;  // not ended yet
  bool stopping = false;
  std::atomic<bool> halt{false};  // stopping, read without the lock by transfers in progress
  std::set<curl_socket_t> sockets;  // every open connection, so stop() can cut them
  std::vector<std::thread> threads;
};

namespace {

using Shared = ConnectionPool::Shared;

// One connection and its thread's curl handle. Lives on its worker thread only.
class Connection {
 public:
  explicit Connection(Shared& shared) : shared_(shared), easy_(curl_easy_init()) { setup(); }
  ~Connection() {
    // Sends QUIT on an open connection and waits for its reply: on this thread, never an
    // engine thread; stop() cuts the socket if that takes more than a second.
    if (easy_ != nullptr) curl_easy_cleanup(easy_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Outcome send(const Envelope& envelope) {
    Outcome outcome = attempt(envelope);
    // A reused connection the server had closed while idle fails before any reply: once
    // more on a new connection, as nothing can have been accepted.
    if (outcome.curl_code != CURLE_OK && !outcome.new_connection && !replied_ &&
        (outcome.curl_code == CURLE_SEND_ERROR || outcome.curl_code == CURLE_RECV_ERROR ||
         outcome.curl_code == CURLE_GOT_NOTHING)) {
      outcome = attempt(envelope);
    }
    return outcome;
  }

 private:
  void setup() {
    const ServerSettings& s = shared_.settings;
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_URL, s.url.c_str());
    curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(easy_, CURLOPT_USE_SSL, s.require_starttls ? static_cast<long>(CURLUSESSL_ALL)
                                                                 : static_cast<long>(CURLUSESSL_NONE));
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy_, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    if (!s.ca_file.empty()) curl_easy_setopt(easy_, CURLOPT_CAINFO, s.ca_file.c_str());
    if (!s.username.empty()) {
      curl_easy_setopt(easy_, CURLOPT_USERNAME, s.username.c_str());
      curl_easy_setopt(easy_, CURLOPT_PASSWORD, s.password.c_str());
      curl_easy_setopt(easy_, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN;AUTH=LOGIN");
      curl_easy_setopt(easy_, CURLOPT_SASL_IR, 1L);  // AUTH PLAIN <credentials>: one round trip less
    }
    curl_easy_setopt(easy_, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy_, CURLOPT_READFUNCTION, &Connection::on_read);
    curl_easy_setopt(easy_, CURLOPT_READDATA, this);
    curl_easy_setopt(easy_, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
    const auto timeout = std::max(s.timeout, std::chrono::milliseconds(1000));
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
    // Per command: how long each reply may take (whole seconds in curl 7.88).
    curl_easy_setopt(easy_, CURLOPT_SERVER_RESPONSE_TIMEOUT,
                     static_cast<long>(std::chrono::ceil<std::chrono::seconds>(timeout).count()));
    curl_easy_setopt(easy_, CURLOPT_MAXAGE_CONN, kMaxIdleSeconds);
    curl_easy_setopt(easy_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_);
    curl_easy_setopt(easy_, CURLOPT_VERBOSE, 1L);  // feeds on_debug; nothing is printed
    curl_easy_setopt(easy_, CURLOPT_DEBUGFUNCTION, &Connection::on_debug);
    curl_easy_setopt(easy_, CURLOPT_DEBUGDATA, this);
    curl_easy_setopt(easy_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy_, CURLOPT_XFERINFOFUNCTION, &Connection::on_progress);
    curl_easy_setopt(easy_, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(easy_, CURLOPT_OPENSOCKETFUNCTION, &Connection::on_open_socket);
    curl_easy_setopt(easy_, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(easy_, CURLOPT_CLOSESOCKETFUNCTION, &Connection::on_close_socket);
    curl_easy_setopt(easy_, CURLOPT_CLOSESOCKETDATA, this);
  }

  Outcome attempt(const Envelope& envelope) {
    Outcome outcome;
    outcome.message_bytes = envelope.message.size();
    Transcript transcript(outcome, capabilities_);
    transcript_ = &transcript;
    message_ = envelope.message;
    offset_ = 0;
    error_[0] = '\0';
    const std::string from = "<" + envelope.from + ">";
    curl_slist* recipients = nullptr;
    for (const auto& r : envelope.recipients) recipients = curl_slist_append(recipients, ("<" + r + ">").c_str());
    curl_easy_setopt(easy_, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(easy_, CURLOPT_MAIL_RCPT, recipients);
    // With SIZE offered, curl announces it in MAIL FROM and the server refuses early.
    curl_easy_setopt(easy_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(envelope.message.size()));
    // A bound on the whole message too, so a server that trickles replies cannot hold it.
    const auto per_command = std::max(shared_.settings.timeout, std::chrono::milliseconds(1000));
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(per_command.count() * static_cast<long>(10 + envelope.recipients.size())));
    // The connection's last message: curl says QUIT and closes it afterwards.
    const bool last = sent_on_connection_ + 1 >= shared_.settings.max_per_connection;
    curl_easy_setopt(easy_, CURLOPT_FORBID_REUSE, last ? 1L : 0L);
    const CURLcode code = curl_easy_perform(easy_);
    curl_easy_setopt(easy_, CURLOPT_MAIL_RCPT, nullptr);
    curl_slist_free_all(recipients);
    outcome.curl_code = code;
    if (code != CURLE_OK) outcome.curl_error = error_[0] != '\0' ? error_ : curl_easy_strerror(code);
    long connects = 0;
    curl_easy_getinfo(easy_, CURLINFO_NUM_CONNECTS, &connects);
    outcome.new_connection = connects > 0;
    sent_on_connection_ = last ? 0 : outcome.new_connection ? 1 : sent_on_connection_ + 1;
    outcome.capabilities = capabilities_;
    replied_ = transcript.any_reply();
    transcript_ = nullptr;
    return outcome;
  }

  static size_t on_read(char* buffer, size_t size, size_t count, void* self) {
    auto* c = static_cast<Connection*>(self);
    const std::size_t n = std::min(size * count, c->message_.size() - c->offset_);
    std::memcpy(buffer, c->message_.data() + c->offset_, n);
    c->offset_ += n;
    return n;
  }

  static int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* self) {
    auto* c = static_cast<Connection*>(self);
    if (c->transcript_ == nullptr) return 0;
    if (type == CURLINFO_HEADER_OUT) c->transcript_->command(std::string_view(data, size));
    if (type == CURLINFO_HEADER_IN) c->transcript_->reply(std::string_view(data, size));
    return 0;
  }

  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Connection*>(self)->shared_.halt.load(std::memory_order_relaxed) ? 1 : 0;  // abort: stopping
  }

  static curl_socket_t on_open_socket(void* self, curlsocktype, curl_sockaddr* address) {
    auto* c = static_cast<Connection*>(self);
    std::lock_guard lock(c->shared_.mutex);
    if (c->shared_.stopping) return CURL_SOCKET_BAD;
    const curl_socket_t fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd != CURL_SOCKET_BAD) c->shared_.sockets.insert(fd);
    return fd;
  }

  static int on_close_socket(void* self, curl_socket_t fd) {
    auto* c = static_cast<Connection*>(self);
    {
      std::lock_guard lock(c->shared_.mutex);
      c->shared_.sockets.erase(fd);
    }
    return ::close(fd);
  }

  Shared& shared_;
  CURL* easy_;
  Capabilities capabilities_;
  Transcript* transcript_ = nullptr;
  std::string_view message_;
  std::size_t offset_ = 0;
  bool replied_ = false;
  std::size_t sent_on_connection_ = 0;  // transactions on the open connection
  char error_[CURL_ERROR_SIZE] = {};
};

void worker(std::shared_ptr<Shared> shared) {
  {
    Connection connection(*shared);
    for (;;) {
      Shared::Job job;
      {
        std::unique_lock lock(shared->mutex);
        shared->wake.wait(lock, [&] { return shared->stopping || !shared->jobs.empty(); });
        if (shared->stopping) break;
        job = std::move(shared->jobs.front());
        shared->jobs.pop_front();
        --shared->idle;
      }
      Outcome outcome = connection.send(job.envelope);
      {
        // Idle before the result is posted: the next message may come as soon as it lands.
        std::lock_guard lock(shared->mutex);
        ++shared->idle;
      }
      shared->post([done = std::move(job.done), outcome = std::move(outcome)]() mutable { done(std::move(outcome)); });
    }
  }
  std::lock_guard lock(shared->mutex);
  --shared->running;
  shared->exited.notify_all();
}

std::string step_failure(const Outcome& o) {
  const std::string& step = o.failed_step;
  const std::string reply = o.failed_reply.line();
  if (step == "greeting") return "the server refused the connection: " + reply;
  if (step == "AUTH") {
    return "authentication failed: " + reply + (o.failed_reply.code >= 500 ? " (check username and password)" : "");
  }
  if (step == "MAIL") return "the sender was refused (MAIL FROM): " + reply;
  if (step == "end of data") return "the server refused the message: " + reply;
  return step + " refused: " + reply;
}

std::string list_replies(const std::vector<std::pair<std::string, Reply>>& replies) {
  std::string out;
  for (const auto& [rcpt, reply] : replies) {
    if (!out.empty()) out += "; ";
    out += rcpt + ": " + reply.line();
  }
  return out;
}

}  // namespace

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

ConnectionPool::ConnectionPool(ServerSettings settings, std::size_t size,
                               std::function<void(std::function<void()>)> post)
    : shared_(std::make_shared<Shared>()) {
  init_curl();
  shared_->settings = std::move(settings);
  shared_->size = std::max<std::size_t>(size, 1);
  shared_->post = std::move(post);
}

ConnectionPool::~ConnectionPool() { stop(); }

void ConnectionPool::submit(Envelope envelope, std::function<void(Outcome)> done) {
  std::lock_guard lock(shared_->mutex);
  if (shared_->stopping) return;
  shared_->jobs.push_back({std::move(envelope), std::move(done)});
  if (shared_->idle < shared_->jobs.size() && shared_->workers < shared_->size) {
    ++shared_->workers;
    ++shared_->idle;  // it takes a job as soon as it runs
    ++shared_->running;
    shared_->threads.emplace_back(worker, shared_);
  }
  shared_->wake.notify_one();
}

void ConnectionPool::stop() {
  std::vector<std::thread> threads;
  {
    std::unique_lock lock(shared_->mutex);
    shared_->stopping = true;
    shared_->halt = true;
    shared_->jobs.clear();
    shared_->wake.notify_all();
    if (!shared_->exited.wait_for(lock, kQuitGrace, [&] { return shared_->running == 0; })) {
      // A server slow to answer QUIT (or a message still in flight) is cut off.
      for (const curl_socket_t fd : shared_->sockets) ::shutdown(fd, SHUT_RDWR);
    }
    threads.swap(shared_->threads);
  }
  for (auto& t : threads) t.join();
}

Verdict judge(const Outcome& o, const Envelope& envelope, bool needs_smtputf8) {
  Verdict v;
  std::string hint;
  if (needs_smtputf8 && o.capabilities.known && !o.capabilities.smtputf8) {
    hint += " (a non-ASCII address needs SMTPUTF8, which this server does not offer)";
  }
  if (o.capabilities.size_limit > 0 && o.message_bytes > o.capabilities.size_limit) {
    hint += " (the message is " + std::to_string(o.message_bytes) + " bytes; the server takes at most " +
            std::to_string(o.capabilities.size_limit) + ")";
  }
  auto by_class = [&](int code, std::string message) {
    v.failure_class = code >= 500 ? "5xx" : "4xx";
    v.error = code >= 500 ? permanent(std::move(message) + hint) : retryable(std::move(message) + hint);
  };
  std::vector<std::pair<std::string, Reply>> refused;
  bool any_temporary = false;
  for (const auto& [rcpt, reply] : o.recipients) {
    if (reply.code / 100 == 2) continue;
    refused.emplace_back(rcpt, reply);
    any_temporary = any_temporary || reply.code < 500;
  }

  if (o.curl_code == CURLE_OK) {
    // The server took the message: every recipient whose RCPT it accepted has it.
    for (const auto& [rcpt, reply] : o.recipients) {
      if (reply.code / 100 == 2) v.accepted.push_back(rcpt);
    }
    if (o.recipients.empty()) v.accepted = envelope.recipients;
    if (refused.empty()) return v;
    v.refused = refused;
    by_class(any_temporary ? 450 : 550, "delivered to " + std::to_string(v.accepted.size()) + " of " +
                                            std::to_string(envelope.recipients.size()) + " recipients; refused: " +
                                            list_replies(refused) +
                                            (any_temporary ? " (a retry sends to those only)" : ""));
    return v;
  }
  v.refused = refused;
  if (!o.failed_step.empty()) {
    by_class(o.failed_reply.code, step_failure(o));
    return v;
  }
  if (!refused.empty() && refused.size() == o.recipients.size()) {
    by_class(any_temporary ? 450 : 550, "every recipient was refused: " + list_replies(refused));
    return v;
  }
  const std::string why = o.curl_error.empty() ? curl_easy_strerror(static_cast<CURLcode>(o.curl_code)) : o.curl_error;
  switch (static_cast<CURLcode>(o.curl_code)) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      v.failure_class = "tls";
      v.error = permanent("TLS: the server's certificate was not accepted: " + why +
                          " (a private CA goes in ca_file; the certificate must name the host)");
      return v;
    case CURLE_SSL_CONNECT_ERROR:
      v.failure_class = "tls";
      v.error = retryable("TLS handshake failed: " + why);
      return v;
    case CURLE_USE_SSL_FAILED:
      v.failure_class = "config";
      v.error = permanent("the server does not offer STARTTLS, which tls: starttls requires (" + why + ")");
      return v;
    case CURLE_LOGIN_DENIED:
      v.failure_class = "config";
      v.error = permanent(std::string("authentication failed: ") +
                          (!o.capabilities.auth_offered ? "the server offers no AUTH (leave username unset?)"
                           : !o.capabilities.auth_plain_or_login ? "the server offers neither AUTH PLAIN nor LOGIN"
                                                                  : why));
      return v;
    case CURLE_OPERATION_TIMEDOUT:
      v.failure_class = "network";
      v.error = retryable("timed out: " + why);
      return v;
    case CURLE_ABORTED_BY_CALLBACK:
      v.failure_class = "network";
      v.error = retryable("the sink stopped while sending");
      return v;
    default:
      v.failure_class = "network";
      v.error = retryable(why + hint);
      return v;
  }
}

}  // namespace switchyard::smtp
