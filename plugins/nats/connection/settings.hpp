#pragma once
// The options every nats component shares: where the servers are, how to trust them and
// how to prove who we are. Declared once here and appended to each component's own table,
// so the sink and the source read alike (docs/plugins/nats.md, "Connection").

#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "switchyard/switchyard.hpp"

namespace switchyard::nats {

inline constexpr OptionSpec kReconnectOptions[] = {
    {.name = "initial", .type = OptionType::duration, .default_value = "250ms",
     .description = "Wait after a round of failed attempts at every known server; doubles with "
                    "each round, with jitter, up to max. A lost server is replaced at once by "
                    "another of the cluster: the wait applies only when none answers."},
    {.name = "max", .type = OptionType::duration, .default_value = "8s",
     .description = "Longest wait between two rounds. The client never gives up: when every server has refused the credentials (libnats then closes the connection), a new connection tries again after this long."},
};

inline constexpr OptionSpec kConnectionOptions[] = {
    {.name = "servers", .type = OptionType::string_list, .default_value = R"(["nats://127.0.0.1:4222"])",
     .description = "Server URLs (nats:// or tls://; host:port alone means nats://); an entry may "
                    "hold several, comma-separated (\"${NATS_URL}\"). The client "
                    "connects to one at random, learns the rest of the cluster from it, and "
                    "moves to another when one is lost or enters lame-duck mode. Credentials "
                    "belong in token, username/password, nkey_seed or credentials, not in URLs.",
     .example = "[nats://nats-1:4222, nats://nats-2:4222, nats://nats-3:4222]"},
    {.name = "tls", .type = OptionType::boolean, .default_value = "false",
     .description = "Speak TLS, verifying the server's certificate and host name (tls:// URLs "
                    "turn it on too). The system's CA store unless ca_file is given."},
    {.name = "ca_file", .type = OptionType::string,
     .description = "PEM file of the CAs that signed the servers' certificates (private CAs); implies tls.",
     .example = "/etc/nats/ca.pem"},
    {.name = "cert_file", .type = OptionType::string,
     .description = "PEM client certificate, for servers that verify clients (with key_file).",
     .example = "/etc/nats/client.pem"},
    {.name = "key_file", .type = OptionType::string,
     .description = "PEM private key of cert_file.", .example = "/etc/nats/client-key.pem"},
    {.name = "credentials", .type = OptionType::string,
     .description = "A .creds file (user JWT and NKey seed, from nsc) for decentralized auth. "
                    "The file is read at every connect, so a rotated file is picked up.",
     .example = "/etc/nats/switchyard.creds"},
    {.name = "nkey_seed", .type = OptionType::string,
     .description = "The user's NKey seed (SU...), for servers that list the user by its public "
                    "NKey; it signs the server's challenge and is never sent.",
     .example = "${file:/etc/nats/switchyard.nk}", .secret = true},
    {.name = "token", .type = OptionType::string,
     .description = "Authentication token (authorization { token: ... } on the server).",
     .example = "${NATS_TOKEN}", .secret = true},
    {.name = "username", .type = OptionType::string, .description = "User name, with password."},
    {.name = "password", .type = OptionType::string, .description = "Password of username.",
     .example = "${NATS_PASSWORD}", .secret = true},
    {.name = "timeout", .type = OptionType::duration, .default_value = "5s",
     .description = "Connecting to one server, each JetStream API call, and (sink) waiting for "
                    "a publish's acknowledgement."},
    {.name = "reconnect", .type = OptionType::object, .default_value = "{}",
     .description = "Back-off between rounds of reconnect attempts.", .children = kReconnectOptions},
};

/// A component's option table: its own options followed by the connection's.
template <std::size_t N, std::size_t M>
constexpr std::array<OptionSpec, N + M> with_connection_options(const OptionSpec (&own)[N],
                                                                const OptionSpec (&connection)[M]) {
  std::array<OptionSpec, N + M> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = own[i];
  for (std::size_t i = 0; i < M; ++i) out[N + i] = connection[i];
  return out;
}

/// Where and how to connect, read once from the options.
struct ConnectionSettings {
  std::vector<std::string> servers;  ///< URLs with a scheme
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string credentials;
  std::string nkey_seed;  ///< secret
  std::string token;      ///< secret
  std::string username;
  std::string password;   ///< secret
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds reconnect_initial{250};
  std::chrono::milliseconds reconnect_max{8000};
  std::string name;  ///< the connection's name on the server: "switchyard <pipeline>/<component>"
};

/// Reads the connection options; every problem is appended to `errors` ("option: why"),
/// never quoting a secret.
ConnectionSettings read_connection(const Options& options, const Context& context,
                                   std::vector<std::string>& errors);

/// Joins option errors into one invalid_config message ("a: x; b: y").
Error config_error(const std::vector<std::string>& errors);

/// Whether `name` can be a stream or consumer name: not empty, at most 255 bytes, none of
/// `. * > / \` nor white space or control characters.
bool valid_name(std::string_view name);

/// Whether `subject` is a NATS subject: dot-separated non-empty tokens without white space;
/// with `wildcards`, a token may be `*` and the last one `>`.
bool valid_subject(std::string_view subject, bool wildcards);

/// Whether the subject `subject` (no wildcards) matches `pattern` (`*` one token, `>` the rest).
bool subject_matches(std::string_view pattern, std::string_view subject);

/// A duration for messages: "250ms", "5s", "2m", "1h".
std::string human(std::chrono::milliseconds d);

}  // namespace switchyard::nats
