#pragma once
// The SMTP client of the smtp sink: libcurl's SMTP (STARTTLS or implicit TLS with the
// certificate and host name verified, AUTH PLAIN/LOGIN, SIZE, SMTPUTF8, dot-stuffing) on
// the sink's own threads, one per pooled connection, each connection reused across messages.
//
// Why threads and not the engine's event loop (curl_multi_socket_action on FdWatch): libcurl
// waits for the reply to the end of DATA, and for QUIT's, with a blocking poll inside
// curl_multi_*() (smtp_done → smtp_block_statemach), up to the server's response time. On an
// engine thread that stalls every pipeline sharing it; here it stalls only its own connection.
// docs/architecture.md ("SMTP") compares this with a hand-written client.
//
// What curl does not report, the reply to each RCPT, is read from the SMTP dialogue curl
// hands its debug callback (commands out, replies in); credentials in it are never kept.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/result.hpp"

namespace switchyard::smtp {

/// Where and how to connect; fixed for the sink's lifetime.
struct ServerSettings {
  std::string url;  ///< smtp://host:port/helo or smtps://host:port/helo
  bool require_starttls = false;
  std::string ca_file;
  std::string username;
  std::string password;
  std::chrono::milliseconds timeout{30000};  ///< per command (reply wait), and the connect
  std::size_t max_per_connection = 100;      ///< messages before a connection is closed (QUIT)
};

/// One message to send.
struct Envelope {
  std::string from;                     ///< MAIL FROM mailbox
  std::vector<std::string> recipients;  ///< RCPT TO mailboxes
  std::string message;                  ///< the message, CRLF line ends
};

/// One SMTP reply: its code and text (lines joined by a space, cut to 300 characters).
struct Reply {
  int code = 0;
  std::string text;
  std::string line() const { return code == 0 ? text : std::to_string(code) + " " + text; }
};

/// What the server's EHLO offered, as far as the sink cares.
struct Capabilities {
  bool known = false;  ///< an EHLO reply has been read on this connection
  bool smtputf8 = false;
  bool eight_bit_mime = false;
  bool starttls = false;
  bool auth_plain_or_login = false;
  bool auth_offered = false;
  std::uint64_t size_limit = 0;  ///< 0: none announced
};

/// What happened to one message.
struct Outcome {
  int curl_code = 0;         ///< CURLcode
  std::string curl_error;    ///< curl's error text
  std::vector<std::pair<std::string, Reply>> recipients;  ///< each RCPT's reply, in order
  std::string failed_step;   ///< the command whose reply ended the transaction ("" if none)
  Reply failed_reply;        ///< that reply
  Reply final_reply;         ///< reply to the end of the message data (code 0: none)
  Capabilities capabilities; ///< of the connection used
  bool new_connection = false;
  std::uint64_t message_bytes = 0;
};

/// A pool of up to `size` connections, each on its own thread.
class ConnectionPool {
 public:
  /// `post` hands a completion to the sink's strand (Executor::post).
  ConnectionPool(ServerSettings settings, std::size_t size, std::function<void(std::function<void()>)> post);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  /// Sends `envelope` on a free connection (opening one while fewer than `size` exist);
  /// `done` runs through `post` once the server has answered or the attempt failed.
  void submit(Envelope envelope, std::function<void(Outcome)> done);
  /// Ends every connection (QUIT where the server answers within a second) and joins the
  /// threads; `done` callbacks not yet run are dropped.
  void stop();

  struct Shared;  ///< The queue and threads (client.cpp); the threads keep it alive.

 private:
  std::shared_ptr<Shared> shared_;
};

/// The delivery result of an outcome, for the engine and the operator.
struct Verdict {
  std::vector<std::string> accepted;  ///< recipients that have the message now
  std::optional<Error> error;         ///< nullopt: every recipient has it
  std::string failure_class;          ///< for metrics: "4xx", "5xx", "tls", "network"
  std::vector<std::pair<std::string, Reply>> refused;  ///< recipients refused, with the reply
};

/// Decides what an outcome means: 4xx retryable, 5xx permanent (with the server's reply),
/// partial acceptance reported per recipient, certificates needing an operator.
Verdict judge(const Outcome& outcome, const Envelope& envelope, bool needs_smtputf8);

/// Sets up libcurl once per process (thread-safe).
void init_curl();

}  // namespace switchyard::smtp
