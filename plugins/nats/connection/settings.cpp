#include "connection/settings.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "connection/nkey.hpp"

namespace switchyard::nats {
namespace {

using namespace std::chrono_literals;

bool blank(char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }

std::string trimmed(std::string_view s) {
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// A server URL as libnats takes it: nats://host:port or tls://host:port (host:port alone
// gets nats://). Problems are described without quoting the URL when it may hold a secret.
std::optional<std::string> server_url(std::string_view text, std::string& why) {
  std::string url = trimmed(text);
  if (url.empty()) {
    why = "an entry is empty";
    return std::nullopt;
  }
  if (url.find("://") == std::string::npos) url = "nats://" + url;
  const auto scheme = url.substr(0, url.find("://"));
  if (scheme != "nats" && scheme != "tls") {
    why = "'" + url.substr(0, 80) + "': expected a nats:// or tls:// URL";
    return std::nullopt;
  }
  const std::string rest = url.substr(scheme.size() + 3);
  if (rest.find('@') != std::string::npos) {
    // The URL is not a secret option: whatever it holds would show in logs and the admin API.
    why = "credentials in a URL are not redacted: use token, username/password, nkey_seed or credentials";
    return std::nullopt;
  }
  if (rest.empty() || std::any_of(rest.begin(), rest.end(), blank) || rest.find_first_of("/?#") != std::string::npos) {
    why = "'" + url.substr(0, 80) + "': expected scheme://host[:port]";
    return std::nullopt;
  }
  return url;
}

void readable(const std::string& path, const char* option, std::vector<std::string>& errors) {
  if (path.empty()) return;
  if (::access(path.c_str(), R_OK) != 0) {
    errors.push_back(std::string(option) + ": cannot read " + path + " (" + std::strerror(errno) + ")");
  }
}

}  // namespace

ConnectionSettings read_connection(const Options& options, const Context& context,
                                   std::vector<std::string>& errors) {
  ConnectionSettings s;
  for (const auto& list : options.strings("servers")) {
    // An entry may list several, comma-separated, as NATS_URL does for the nats CLI: one
    // variable then holds the whole cluster ("${NATS_URL}").
    std::string_view rest = list;
    for (;;) {
      const auto comma = rest.find(',');
      std::string why;
      if (auto url = server_url(rest.substr(0, comma), why)) {
        if (url->starts_with("tls://")) s.tls = true;
        s.servers.push_back(std::move(*url));
      } else {
        errors.push_back("servers: " + why);
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (options.strings("servers").empty()) errors.push_back("servers: list at least one server");

  s.ca_file = std::string(options.string("ca_file"));
  s.cert_file = std::string(options.string("cert_file"));
  s.key_file = std::string(options.string("key_file"));
  s.tls = s.tls || options.boolean("tls") || !s.ca_file.empty() || !s.cert_file.empty();
  readable(s.ca_file, "ca_file", errors);
  readable(s.cert_file, "cert_file", errors);
  readable(s.key_file, "key_file", errors);
  if (s.cert_file.empty() != s.key_file.empty()) errors.push_back("cert_file, key_file: give both or neither");

  // Secrets read from files (${file:...}) usually end with a newline.
  s.credentials = std::string(options.string("credentials"));
  s.nkey_seed = trimmed(options.string("nkey_seed"));
  s.token = trimmed(options.string("token"));
  s.username = std::string(options.string("username"));
  s.password = std::string(options.string("password"));
  readable(s.credentials, "credentials", errors);
  const int methods = !s.credentials.empty() + !s.nkey_seed.empty() + !s.token.empty() + !s.username.empty();
  if (methods > 1) errors.push_back("credentials, nkey_seed, token, username: give one way to authenticate");
  if (!s.password.empty() && s.username.empty()) errors.push_back("password: needs username");
  if (!s.nkey_seed.empty() && !NKey::from_seed(s.nkey_seed)) {
    errors.push_back("nkey_seed: not a user NKey seed (a line of 58 characters starting with SU)");
  }
  if (std::any_of(s.token.begin(), s.token.end(), blank)) errors.push_back("token: must not contain spaces or control characters");

  s.timeout = options.duration("timeout");
  if (s.timeout < 100ms || s.timeout > 10min) errors.push_back("timeout: expected 100ms to 10m");
  const Options reconnect = options.object("reconnect");
  s.reconnect_initial = reconnect.duration("initial", 250ms);
  s.reconnect_max = reconnect.duration("max", 8s);
  if (s.reconnect_initial < 10ms) errors.push_back("reconnect.initial: expected at least 10ms");
  if (s.reconnect_max < s.reconnect_initial || s.reconnect_max > 10min) {
    errors.push_back("reconnect.max: expected from reconnect.initial to 10m");
  }
  s.name = "switchyard " + std::string(context.pipeline()) + "/" + std::string(context.component());
  return s;
}

Error config_error(const std::vector<std::string>& errors) {
  std::string message;
  for (const auto& e : errors) message += (message.empty() ? "" : "; ") + e;
  return invalid_config(std::move(message));
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return blank(c) || c == '.' || c == '*' || c == '>' || c == '/' || c == '\\';
  });
}

bool valid_subject(std::string_view subject, bool wildcards) {
  if (subject.empty() || subject.size() > 4096) return false;
  std::size_t start = 0;
  for (;;) {
    const auto end = subject.find('.', start);
    const auto token = subject.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (token.empty() || std::any_of(token.begin(), token.end(), blank)) return false;
    const bool last = end == std::string_view::npos;
    if (token.find_first_of("*>") != std::string_view::npos) {
      if (!wildcards || token.size() != 1 || (token == ">" && !last)) return false;
    }
    if (last) return true;
    start = end + 1;
  }
}

bool subject_matches(std::string_view pattern, std::string_view subject) {
  for (;;) {
    const auto pe = pattern.find('.');
    const auto se = subject.find('.');
    const auto ptoken = pattern.substr(0, pe);
    const auto stoken = subject.substr(0, se);
    if (ptoken == ">") return !subject.empty();
    if (ptoken != "*" && ptoken != stoken) return false;
    if (pe == std::string_view::npos || se == std::string_view::npos) {
      return pe == std::string_view::npos && se == std::string_view::npos;
    }
    pattern.remove_prefix(pe + 1);
    subject.remove_prefix(se + 1);
  }
}

std::string human(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0 && ms != 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace switchyard::nats
