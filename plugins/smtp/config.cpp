// The smtp sink's options, declared once, and how they are checked and read.
#include <algorithm>
#include <fstream>

#include "smtp_sink.hpp"

namespace switchyard::smtp {
namespace {

constexpr const char* kTlsModes[] = {"starttls", "implicit", "none"};

constexpr OptionSpec kOptions[] = {
    {.name = "host", .type = OptionType::string, .required = true,
     .description = "The SMTP server (name or IP address). Its certificate must name it.",
     .example = "smtp.gmail.com"},
    {.name = "port", .type = OptionType::integer,
     .description = "TCP port: 587 (submission) by default, 465 with tls: implicit.", .example = "587"},
    {.name = "tls", .type = OptionType::string, .default_value = "starttls",
     .description = "starttls: plain connect, then STARTTLS, which the server must offer. implicit: "
                    "TLS from the first byte (port 465). none: no encryption, only with "
                    "allow_plaintext (a warning is logged at start). The certificate and host name "
                    "are always verified.",
     .choices = kTlsModes},
    {.name = "allow_plaintext", .type = OptionType::boolean, .default_value = "false",
     .description = "Allow tls: none (messages and the password cross the network in clear text). "
                    "For a relay on the same host or a test server."},
    {.name = "ca_file", .type = OptionType::string,
     .description = "PEM file of CAs to trust instead of the system store (private CAs)."},
    {.name = "username", .type = OptionType::string,
     .description = "Login for AUTH PLAIN or LOGIN (whichever the server offers); no AUTH without it.",
     .example = "${SMTP_USERNAME}"},
    {.name = "password", .type = OptionType::string,
     .description = "Password for AUTH (an app password for Gmail, SMTP credentials for SES).",
     .example = "${SMTP_PASSWORD}", .secret = true},
    {.name = "helo", .type = OptionType::string,
     .description = "Name this client gives in EHLO; default: this machine's host name.",
     .example = "ci.example.com"},
    {.name = "from", .type = OptionType::text_template, .required = true,
     .description = "Sender: an address or \"Name <address>\" (also the envelope sender, MAIL FROM). "
                    "Its domain names the Message-ID.",
     .example = "CI <ci@example.com>"},
    {.name = "to", .type = OptionType::template_list, .required = true,
     .description = "Recipients: a list, or one string of comma-separated addresses. An item "
                    "with an expression gives one address, whatever the event holds (an e-mail "
                    "with a comma in it is refused), unless the expression's value is a list "
                    "(${{ payload.emails }}). `to: []` with bcc sends to the bcc recipients only.",
     .example = "[ops@example.com, \"${{ payload.pusher.email }}\"]"},
    {.name = "cc", .type = OptionType::template_list, .description = "Copy recipients, as to."},
    {.name = "bcc", .type = OptionType::template_list,
     .description = "Blind copy recipients, as to: in the envelope only, never in a header."},
    {.name = "reply_to", .type = OptionType::text_template, .default_value = "",
     .description = "Reply-To addresses (comma-separated; with an expression, as to)."},
    {.name = "subject", .type = OptionType::text_template, .default_value = "",
     .description = "Subject. Line breaks in it (a commit message) become spaces: no value from an "
                    "event can start another header. Non-ASCII text is RFC 2047-encoded.",
     .example = "Build failed: ${{ payload.workflow_run.name }} on ${{ payload.repository.full_name }}"},
    {.name = "text", .type = OptionType::text_template, .default_value = "",
     .description = "Plain-text body (UTF-8). With html too, the message is multipart/alternative; "
                    "with neither, the body is empty.",
     .example = "${{ payload.workflow_run.html_url }}"},
    {.name = "html", .type = OptionType::text_template,
     .description = "HTML body (UTF-8). Values from the event are inserted as they are: run them "
                    "through the sanitize transform first when they may hold markup."},
    {.name = "headers", .type = OptionType::template_map,
     .description = "Extra headers (X-..., List-Id, References...). Date, From, To, Cc, Bcc, "
                    "Reply-To, Subject, Message-ID, MIME-Version and Content-* are the sink's own. "
                    "Line breaks in values become spaces.",
     .example = "{X-Run-Id: \"${{ payload.workflow_run.id }}\"}"},
    {.name = "timeout", .type = OptionType::duration, .default_value = "30s",
     .description = "Longest wait for the connection and for each reply of the server (whole "
                    "seconds, at least 1s); a message as a whole gets this times its number of "
                    "commands."},
    {.name = "pool_size", .type = OptionType::integer, .default_value = "4",
     .description = "Most connections open at once, each reused for message after message (and "
                    "replaced after 30 s idle). Messages in flight are also bounded by the sink's "
                    "concurrency (default 1)."},
    {.name = "max_per_connection", .type = OptionType::integer, .default_value = "100",
     .description = "Messages sent over one connection before it is closed with QUIT and a new one "
                    "opened (some servers refuse more per connection). 1: a connection per message."},
    {.name = "max_size", .type = OptionType::size, .default_value = "10MiB",
     .description = "Largest message built; a larger one fails permanently. A smaller limit the "
                    "server announces (EHLO SIZE) is announced in MAIL FROM and the server refuses."},
    {.name = "remember", .type = OptionType::duration, .default_value = "30d",
     .description = "How long the recipients that took a partly delivered message are remembered "
                    "(state store), so that a retry or a dead-letter replay sends it only to the others."},
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : "; ") + item;
  return out;
}

bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == ':' || c == '[' || c == ']';
  });
}

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// Constant address options are checked now, so a typo is a load error and not a dead letter.
void check_constant(const TextOption& option, std::string_view name, bool single, std::vector<std::string>& errors) {
  if (!option.is_constant() || option.literal().empty()) return;
  if (single) {
    if (auto a = parse_address(option.literal()); !a) errors.push_back(std::string(name) + ": " + a.error().message);
    return;
  }
  if (auto list = parse_address_list(option.literal()); !list) {
    errors.push_back(std::string(name) + ": " + list.error().message);
  }
}

}  // namespace

const ComponentDecl kSmtpSinkDecl{
    .kind = ComponentKind::sink,
    .type = "smtp",
    .summary = "Sends each event as an e-mail through an SMTP server: STARTTLS or implicit TLS "
               "(certificate verified), AUTH PLAIN/LOGIN, connections reused; text and HTML from "
               "templates, headers injection-proof; 4xx retried, 5xx dead-lettered with the reply, "
               "a retry sends only to recipients that have not taken the message.",
    .options = kOptions,
    .create = &make_component<SmtpSink>,
};

Status SmtpSink::configure(const Options& options, Context& context) {
  context_ = &context;
  Settings& s = settings_;
  std::vector<std::string> errors;

  const std::string host(options.string("host"));
  if (!valid_host(host)) errors.push_back("host: expected a host name or IP address");
  s.tls = std::string(options.string("tls"));
  const std::int64_t port = options.integer("port", s.tls == "implicit" ? 465 : 587);
  if (port < 1 || port > 65535) errors.push_back("port: expected 1 to 65535");
  if (s.tls == "none" && !options.boolean("allow_plaintext")) {
    errors.push_back("tls: none sends messages and the password in clear text; set allow_plaintext: true to allow it");
  }
  s.server.ca_file = std::string(options.string("ca_file"));
  if (!s.server.ca_file.empty() && !std::ifstream(s.server.ca_file).good()) {
    errors.push_back("ca_file: cannot read " + s.server.ca_file);
  }
  s.server.username = std::string(options.string("username"));
  s.server.password = std::string(options.string("password"));
  if (s.server.username.empty() != s.server.password.empty()) {
    errors.push_back("username and password: give both or neither");
  }
  if (has_line_break(s.server.username) || has_line_break(s.server.password)) {
    errors.push_back("username and password: must be one line each");
  }
  s.helo = std::string(options.string("helo"));
  if (!s.helo.empty() && !valid_host(s.helo)) errors.push_back("helo: expected a domain name or [address]");
  s.server.timeout = options.duration("timeout");
  if (s.server.timeout < std::chrono::seconds(1)) errors.push_back("timeout: must be at least 1s");
  const std::int64_t pool = options.integer("pool_size", 4);
  if (pool < 1 || pool > 64) errors.push_back("pool_size: expected 1 to 64");
  s.pool_size = static_cast<std::size_t>(std::clamp<std::int64_t>(pool, 1, 64));
  const std::int64_t per_connection = options.integer("max_per_connection", 100);
  if (per_connection < 1) errors.push_back("max_per_connection: must be at least 1");
  s.server.max_per_connection = static_cast<std::size_t>(std::max<std::int64_t>(per_connection, 1));
  s.max_size = options.size("max_size");
  if (s.max_size < 1024) errors.push_back("max_size: must be at least 1KiB");
  s.remember = options.duration("remember");

  s.from = options.text("from");
  s.to = options.texts("to");
  s.cc = options.texts("cc");
  s.bcc = options.texts("bcc");
  s.reply_to = options.text("reply_to");
  s.subject = options.text("subject");
  s.has_html = options.has("html");
  s.has_text = !options.text("text").literal().empty() || !s.has_html;
  s.text = options.text("text");
  s.html = options.text("html");
  s.headers = options.text_map("headers");
  if (s.to.empty() && s.cc.empty() && s.bcc.empty()) errors.push_back("to, cc or bcc: a message needs a recipient");
  check_constant(s.from, "from", true, errors);
  check_constant(s.reply_to, "reply_to", false, errors);
  for (const auto& [name, list] : {std::pair{"to", &s.to}, {"cc", &s.cc}, {"bcc", &s.bcc}}) {
    for (const auto& item : *list) check_constant(item, name, false, errors);
  }
  for (const auto& [name, value] : s.headers) {
    if (!valid_header_name(name)) {
      errors.push_back("headers: \"" + std::string(name) + "\" is not a header name (printable ASCII, no ':' or space)");
    } else if (is_reserved_header(name)) {
      errors.push_back("headers: " + std::string(name) + " is set by the sink itself");
    }
  }
  if (!errors.empty()) return invalid_config(join(errors));

  // An IPv6 literal goes in brackets in the URL; the path is the EHLO name (curl's default:
  // this machine's host name).
  const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  s.endpoint = (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  s.server.url = std::string(s.tls == "implicit" ? "smtps://" : "smtp://") + s.endpoint + "/" + s.helo;
  s.server.require_starttls = s.tls == "starttls";
  return {};
}

}  // namespace switchyard::smtp
