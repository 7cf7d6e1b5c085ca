#pragma once
// `smtp` sink: each event becomes one e-mail (text, HTML or both, from templates) sent
// through an SMTP server with STARTTLS or implicit TLS and AUTH, connections reused. 4xx
// replies are retried, 5xx ones dead-lettered with the server's words; when only some
// recipients take the message, a retry sends it to the others only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client.hpp"
#include "message.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::smtp {

extern const ComponentDecl kSmtpSinkDecl;

/// What configure() read, fixed for the sink's lifetime.
struct Settings {
  ServerSettings server;
  std::string endpoint;  ///< host:port for logs
  std::string tls;       ///< starttls | implicit | none
  std::size_t pool_size = 4;
  std::uint64_t max_size = 0;
  std::chrono::milliseconds remember{0};
  TextOption from;
  std::vector<TextOption> to, cc, bcc;
  TextOption reply_to;
  TextOption subject;
  TextOption text;
  TextOption html;
  bool has_text = false;
  bool has_html = false;
  std::vector<std::pair<std::string_view, TextOption>> headers;
  std::string helo;
};

/// An event rendered: the message and who gets it.
struct Rendered {
  MessageSpec spec;
  std::vector<Address> recipients;  ///< to, cc and bcc, each mailbox once
  bool needs_smtputf8 = false;
};

class SmtpSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  void drain(std::function<void()> done) override;
  void stop() override;

  /// What deliver() would send (Sink::render): method "SMTP", url smtp://host:port
  /// (smtps:// for implicit TLS), the message's header fields as the reader sees them (From,
  /// To, Cc, Bcc, Reply-To, Subject, Date, Message-ID, Content-Type and the `headers`
  /// option's), not MIME-encoded, and as body its text, its HTML, or both (the text, a line
  /// "--- text/html ---", the HTML).
  Result<std::optional<Rendering>> render(const Event& event) override;
  /// The message `event` becomes (public for tests).
  Result<Rendered> message_for(const Event& event) const;
  /// The state-store key remembering who already has `event_id`'s message.
  static std::string sent_key(std::string_view event_id) { return "sent/" + std::string(event_id); }

 private:
  void finish(const std::string& event_id, const Envelope& envelope, std::vector<std::string> earlier,
              bool needs_smtputf8, Outcome outcome, const DeliveryCallback& done);
  /// The message as sent (build_message), or a permanent error when over max_size.
  Result<std::string> message_text(const MessageSpec& spec) const;
  void count_failure(const std::string& failure_class);
  void settle();

  Context* context_ = nullptr;
  Settings settings_;
  std::unique_ptr<ConnectionPool> pool_;
  std::size_t in_flight_ = 0;
  std::function<void()> drained_;
  Counter* sent_ = nullptr;
  Counter* connections_ = nullptr;
  // Completions posted by the pool's threads do nothing once this has expired (after stop).
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace switchyard::smtp
