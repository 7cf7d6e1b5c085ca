#include "smtp_sink.hpp"

#include <rapidjson/document.h>

#include <algorithm>

namespace switchyard::smtp {
namespace {

constexpr const char* kSentHelp = "Messages the SMTP server accepted (one per transaction, whatever its recipients).";
constexpr const char* kFailuresHelp =
    "Failed SMTP transactions by reply code class (4xx, 5xx), or without a reply: tls, network, config.";
constexpr const char* kRefusedHelp = "Recipients the server refused (RCPT TO), by reply code class.";
constexpr const char* kConnectionsHelp = "SMTP connections opened (few per message: connections are reused).";

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const auto end = s.find('\n');
    if (end != 0) out.emplace_back(s.substr(0, end));
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  return out;
}

// The addresses of a to/cc/bcc item or of reply_to. As written: comma-separated. From a
// template, event data cannot add recipients the template did not ask for: a string is one
// address (a commit author's e-mail "dev@example.com, victim@example.org", or a name with a
// comma and an '@' in it, is refused, not two recipients), and only an expression whose
// value is a list (${{ payload.emails }}) gives several: its strings, each comma-separated.
Result<std::vector<Address>> addresses_of(const TextOption& item, const Event& event) {
  if (item.is_constant()) return parse_address_list(item.render(event));
  rapidjson::Document value;
  item.compiled()->render(event, value, value.GetAllocator());
  if (value.IsNull()) return std::vector<Address>{};
  if (value.IsArray()) {
    std::vector<Address> out;
    for (const auto& element : value.GetArray()) {
      if (!element.IsString()) return permanent("a list of recipients holds something that is not a string");
      auto list = parse_address_list(std::string_view(element.GetString(), element.GetStringLength()));
      if (!list) return list.error();
      out.insert(out.end(), list->begin(), list->end());
    }
    return out;
  }
  const std::string text = value.IsString() ? std::string(value.GetString(), value.GetStringLength()) : item.render(event);
  if (text.find_first_not_of(" \t") == std::string::npos) return std::vector<Address>{};
  auto one = parse_address(text);
  if (!one) return one.error();
  return std::vector<Address>{std::move(*one)};
}

Result<std::vector<Address>> render_list(const std::vector<TextOption>& items, const Event& event, const char* name) {
  std::vector<Address> out;
  for (const auto& item : items) {
    auto list = addresses_of(item, event);
    if (!list) return permanent(std::string(name) + ": " + list.error().message);
    out.insert(out.end(), list->begin(), list->end());
  }
  return out;
}

bool is_ascii_domain(std::string_view domain) {
  return !domain.empty() && domain.front() != '[' &&
         std::all_of(domain.begin(), domain.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

Result<Rendered> SmtpSink::message_for(const Event& event) const {
  const Settings& s = settings_;
  Rendered out;
  MessageSpec& spec = out.spec;
  auto from = parse_address(s.from.render(event));
  if (!from) return permanent("from: " + from.error().message);
  spec.from = std::move(*from);
  auto to = render_list(s.to, event, "to");
  if (!to) return to.error();
  auto cc = render_list(s.cc, event, "cc");
  if (!cc) return cc.error();
  auto bcc = render_list(s.bcc, event, "bcc");
  if (!bcc) return bcc.error();
  auto reply_to = addresses_of(s.reply_to, event);
  if (!reply_to) return permanent("reply_to: " + reply_to.error().message);
  spec.to = std::move(*to);
  spec.cc = std::move(*cc);
  spec.reply_to = std::move(*reply_to);
  for (const auto* list : {&spec.to, &spec.cc, &*bcc}) {
    for (const auto& a : *list) {
      const bool seen = std::any_of(out.recipients.begin(), out.recipients.end(),
                                    [&](const Address& r) { return same_mailbox(r, a); });
      if (!seen) out.recipients.push_back(a);
    }
  }
  if (out.recipients.empty()) return permanent("no recipient: to, cc and bcc are all empty for this event");
  if (out.recipients.size() > kMaxRecipients) {
    return permanent(std::to_string(out.recipients.size()) + " recipients; at most " +
                     std::to_string(kMaxRecipients) + " per message");
  }
  out.needs_smtputf8 = spec.from.needs_smtputf8() ||
                       std::any_of(out.recipients.begin(), out.recipients.end(),
                                   [](const Address& a) { return a.needs_smtputf8(); }) ||
                       std::any_of(spec.reply_to.begin(), spec.reply_to.end(),
                                   [](const Address& a) { return a.needs_smtputf8(); });
  spec.subject = s.subject.render(event);
  spec.has_text = s.has_text;
  spec.has_html = s.has_html;
  if (s.has_text) spec.text = s.text.render(event);
  if (s.has_html) spec.html = s.html.render(event);
  for (const auto& [name, value] : s.headers) spec.headers.emplace_back(std::string(name), value.render(event));
  const std::string domain = spec.from.domain();
  spec.message_id = make_message_id(event.id, std::string(context_->pipeline()) + "." + std::string(context_->component()),
                                    is_ascii_domain(domain) ? domain : !s.helo.empty() ? s.helo : "localhost");
  spec.date = event.time;
  return out;
}

Status SmtpSink::start() {
  Metrics& metrics = context_->metrics();
  sent_ = &metrics.counter("switchyard_smtp_messages_sent_total", kSentHelp);
  connections_ = &metrics.counter("switchyard_smtp_connections_total", kConnectionsHelp);
  Executor* executor = &context_->executor();
  pool_ = std::make_unique<ConnectionPool>(settings_.server, settings_.pool_size,
                                           [executor](std::function<void()> task) { executor->post(std::move(task)); });
  const ServerSettings& server = settings_.server;
  context_->logger().info("sending through " + settings_.endpoint + " (tls: " + settings_.tls +
                          (server.username.empty() ? ", no AUTH" : ", AUTH as " + server.username) +
                          ", up to " + std::to_string(settings_.pool_size) + " connection(s))");
  if (settings_.tls == "none") {
    context_->logger().warn("tls: none: messages" + std::string(server.username.empty() ? "" : " and the password") +
                            " cross the network to " + settings_.endpoint + " unencrypted (allow_plaintext)");
  }
  return {};
}

Result<std::string> SmtpSink::message_text(const MessageSpec& spec) const {
  std::string message = build_message(spec);
  if (message.size() > settings_.max_size) {
    return permanent("the message is " + std::to_string(message.size()) + " bytes, over max_size (" +
                     std::to_string(settings_.max_size) + ")");
  }
  return message;
}

Result<std::optional<Rendering>> SmtpSink::render(const Event& event) {
  auto rendered = message_for(event);
  if (!rendered) return rendered.error();
  if (auto text = message_text(rendered->spec); !text) return text.error();
  const MessageSpec& spec = rendered->spec;
  Rendering out;
  out.method = "SMTP";
  out.url = std::string(settings_.tls == "implicit" ? "smtps://" : "smtp://") + settings_.endpoint;
  auto shown = [](const Address& a) { return a.display.empty() ? a.mailbox : a.display + " <" + a.mailbox + ">"; };
  auto list = [&](const std::vector<Address>& addresses) {
    std::string joined;
    for (const auto& a : addresses) joined += (joined.empty() ? "" : ", ") + shown(a);
    return joined;
  };
  std::vector<Address> bcc;
  for (const auto& r : rendered->recipients) {
    auto in = [&](const std::vector<Address>& l) {
      return std::any_of(l.begin(), l.end(), [&](const Address& a) { return same_mailbox(a, r); });
    };
    if (!in(spec.to) && !in(spec.cc)) bcc.push_back(r);
  }
  out.headers.add("From", shown(spec.from));
  if (!spec.to.empty()) out.headers.add("To", list(spec.to));
  if (!spec.cc.empty()) out.headers.add("Cc", list(spec.cc));
  if (!bcc.empty()) out.headers.add("Bcc", list(bcc));  // the envelope's: never a header of the message
  if (!spec.reply_to.empty()) out.headers.add("Reply-To", list(spec.reply_to));
  out.headers.add("Subject", header_text(spec.subject));
  out.headers.add("Date", format_date(spec.date));
  out.headers.add("Message-ID", spec.message_id);
  out.headers.add("Content-Type", spec.has_text && spec.has_html ? "multipart/alternative"
                                  : spec.has_html               ? "text/html; charset=utf-8"
                                                                : "text/plain; charset=utf-8");
  for (const auto& [name, value] : spec.headers) out.headers.add(name, header_text(value));
  if (spec.has_text) out.body = spec.text;
  if (spec.has_text && spec.has_html) out.body += (out.body.ends_with('\n') ? "" : "\n") + std::string("--- text/html ---\n");
  if (spec.has_html) out.body += spec.html;
  return std::optional<Rendering>(std::move(out));
}

void SmtpSink::deliver(EventPtr event, DeliveryCallback done) {
  auto rendered = message_for(*event);
  if (!rendered) return done(rendered.error());
  // Recipients that took this message in an earlier attempt do not get it again.
  std::vector<std::string> earlier;
  if (auto record = context_->state().get(sent_key(event->id))) earlier = split_lines(*record);
  Envelope envelope;
  envelope.from = rendered->spec.from.mailbox;
  for (const auto& a : rendered->recipients) {
    if (std::find(earlier.begin(), earlier.end(), a.mailbox) == earlier.end()) envelope.recipients.push_back(a.mailbox);
  }
  if (envelope.recipients.empty()) {
    context_->logger().debug("event " + event->id + ": every recipient has the message already");
    return done({});
  }
  auto message = message_text(rendered->spec);
  if (!message) return done(message.error());
  envelope.message = std::move(*message);
  ++in_flight_;
  Envelope summary{envelope.from, envelope.recipients, {}};
  pool_->submit(std::move(envelope),
                [this, alive = std::weak_ptr<char>(alive_), id = event->id, summary = std::move(summary),
                 earlier = std::move(earlier), needs = rendered->needs_smtputf8, done](Outcome outcome) mutable {
                  if (alive.expired()) return;
                  finish(id, summary, std::move(earlier), needs, std::move(outcome), done);
                });
}

void SmtpSink::finish(const std::string& event_id, const Envelope& envelope, std::vector<std::string> earlier,
                      bool needs_smtputf8, Outcome outcome, const DeliveryCallback& done) {
  --in_flight_;
  if (outcome.new_connection) connections_->inc();
  const Verdict verdict = judge(outcome, envelope, needs_smtputf8);
  if (!verdict.accepted.empty()) sent_->inc();
  for (const auto& [rcpt, reply] : verdict.refused) {
    context_->metrics().counter("switchyard_smtp_recipients_refused_total", kRefusedHelp,
                                {{"class", reply.code >= 500 ? "5xx" : "4xx"}}).inc();
  }
  StateStore& state = context_->state();
  if (verdict.error) {
    count_failure(verdict.failure_class);
    if (!verdict.accepted.empty()) {
      earlier.insert(earlier.end(), verdict.accepted.begin(), verdict.accepted.end());
      std::string record;
      for (const auto& r : earlier) record += r + "\n";
      if (auto put = state.put(sent_key(event_id), record, settings_.remember); !put) {
        context_->logger().warn("event " + event_id + ": could not remember who has the message (" +
                                put.error().message + "); a retry may send it to them again");
      }
      context_->logger().warn("event " + event_id + ": " + verdict.error->message);
    }
    done(*verdict.error);
  } else {
    if (!earlier.empty()) (void)state.erase(sent_key(event_id));
    context_->logger().debug("event " + event_id + ": sent to " + std::to_string(verdict.accepted.size()) +
                             " recipient(s)" + (outcome.new_connection ? " on a new connection" : ""));
    done({});
  }
  settle();
}

void SmtpSink::count_failure(const std::string& failure_class) {
  context_->metrics().counter("switchyard_smtp_failures_total", kFailuresHelp, {{"class", failure_class}}).inc();
}

void SmtpSink::drain(std::function<void()> done) {
  drained_ = std::move(done);
  settle();
}

void SmtpSink::settle() {
  if (in_flight_ == 0 && drained_) std::exchange(drained_, nullptr)();
}

void SmtpSink::stop() {
  alive_.reset();
  if (pool_) pool_->stop();
  pool_.reset();
}

}  // namespace switchyard::smtp
