#pragma once
// The outbound-HTTP options every sink that calls a web service declares alike (timeouts,
// private CAs, response cap), and how they become the SDK client's options.

#include <array>
#include <cstddef>

#include "switchyard/switchyard.hpp"

namespace switchyard::http_options {

inline constexpr std::array<OptionSpec, 5> kClientOptions = {{
    {.name = "timeout", .type = OptionType::duration, .default_value = "10s",
     .description = "Whole request, from connect to the last byte of the answer."},
    {.name = "connect_timeout", .type = OptionType::duration, .default_value = "5s",
     .description = "TCP connect plus TLS handshake."},
    {.name = "ca_file", .type = OptionType::string,
     .description = "PEM file of CAs to trust instead of the system store (private CAs)."},
    {.name = "insecure_skip_verify", .type = OptionType::boolean, .default_value = "false",
     .description = "Do not verify the server's certificate. For tests only; logged as a warning."},
    {.name = "max_response", .type = OptionType::size, .default_value = "1MiB",
     .description = "Largest response body read; larger answers fail the delivery."},
}};

/// A component's own options followed by kClientOptions, for ComponentDecl::options.
template <std::size_t N>
constexpr std::array<OptionSpec, N + kClientOptions.size()> with_client_options(
    const std::array<OptionSpec, N>& own) {
  std::array<OptionSpec, N + kClientOptions.size()> all{};
  for (std::size_t i = 0; i < N; ++i) all[i] = own[i];
  for (std::size_t i = 0; i < kClientOptions.size(); ++i) all[N + i] = kClientOptions[i];
  return all;
}

/// The client options read from options declared with kClientOptions.
inline HttpClientOptions client_options(const Options& options) {
  HttpClientOptions out;
  out.request_timeout = options.duration("timeout");
  out.connect_timeout = options.duration("connect_timeout");
  out.ca_file = options.string("ca_file");
  out.insecure_skip_verify = options.boolean("insecure_skip_verify");
  out.max_response_bytes = options.size("max_response");
  return out;
}

}  // namespace switchyard::http_options
