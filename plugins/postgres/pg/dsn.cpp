#include "pg/dsn.hpp"

#include <arpa/inet.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <memory>

namespace switchyard::postgres {
namespace {

std::vector<std::string> split_list(std::string_view list) {
  std::vector<std::string> out;
  if (list.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = list.find(',', start);
    out.emplace_back(list.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

// libpq's parse errors may quote the part of the string they stumbled on, which can be
// the password: only the messages that quote an option name are passed on.
std::string safe_reason(const char* message) {
  if (message == nullptr) return {};
  std::string text(message);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.starts_with("invalid connection option") || text.starts_with("invalid URI query parameter") ||
      text.starts_with("invalid sslmode value") || text.starts_with("invalid integer value")) {
    return " (" + text + ")";
  }
  return {};
}

}  // namespace

bool needs_no_lookup(std::string_view host) {
  if (host.empty() || host.front() == '/' || host.front() == '@') return true;
  const std::string h(host);
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

Result<ConnectTarget> parse_dsn(std::string_view dsn, std::string_view ca_file,
                                std::string_view application_name) {
  char* error = nullptr;
  const std::string text(dsn);
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(text.c_str(), &error),
                                                                       &PQconninfoFree);
  if (!options) {
    std::string reason = safe_reason(error);
    PQfreemem(error);
    return invalid_config("dsn: not a libpq connection string or postgresql:// URL" + reason);
  }
  ConnectTarget target;
  std::string host, hostaddr, port, dbname, user;
  bool has_application_name = false;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "host") host = o->val;
    if (key == "hostaddr") hostaddr = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
    if (key == "user") user = o->val;
    if (key == "sslmode") target.sslmode = o->val;
    if (key == "application_name") has_application_name = true;
    if (key == "sslrootcert" && !ca_file.empty()) continue;  // ca_file wins
    target.keywords.emplace_back(key);
    target.values.emplace_back(o->val);
  }
  if (host.empty()) host = env("PGHOST");
  if (hostaddr.empty()) hostaddr = env("PGHOSTADDR");
  if (port.empty()) port = env("PGPORT");
  if (dbname.empty()) dbname = env("PGDATABASE");
  if (target.sslmode.empty()) target.sslmode = env("PGSSLMODE");
  if (!ca_file.empty()) {
    target.keywords.emplace_back("sslrootcert");
    target.values.emplace_back(ca_file);
    if (target.sslmode.empty()) {
      target.sslmode = "verify-full";
      target.keywords.emplace_back("sslmode");
      target.values.emplace_back("verify-full");
    }
  }
  if (!has_application_name && !application_name.empty()) {
    target.keywords.emplace_back("application_name");
    target.values.emplace_back(application_name);
  }
  target.hosts = split_list(host);
  if (hostaddr.empty()) {
    for (const auto& h : target.hosts) {
      if (!needs_no_lookup(h)) target.needs_resolution = true;
    }
  }
  std::string where = host.empty() ? "local socket" : host;
  target.description = where + ":" + (port.empty() ? "5432" : port) + "/" + (dbname.empty() ? user : dbname);
  return target;
}

bool is_local(const ConnectTarget& target) {
  for (const auto& h : target.hosts) {
    if (h.empty() || h.front() == '/' || h.front() == '@') continue;
    if (h == "localhost" || h.starts_with("127.") || h == "::1") continue;
    return false;
  }
  return true;
}

bool verifies_certificate(const ConnectTarget& target) {
  return target.sslmode == "verify-full" || target.sslmode == "verify-ca";
}

}  // namespace switchyard::postgres
