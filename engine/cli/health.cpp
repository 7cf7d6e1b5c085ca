// `switchyard health`: asks a running engine's admin listener for /healthz (or /readyz) and
// turns the answer into an exit code, so a container HEALTHCHECK, a systemd ExecStartPost or
// a Kubernetes exec probe needs no curl in the image. The address and the token come from
// the same engine configuration the engine runs with.

#include <cstdlib>
#include <future>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/setup.hpp"
#include "config/engine_config.hpp"
#include "http/addresses.hpp"
#include "http/client.hpp"
#include "log/logging.hpp"
#include "runtime/io.hpp"

namespace switchyard::cli {
namespace {

// The admin listener as seen from this host: an all-interfaces address is reached on loopback.
std::optional<std::string> admin_url(const config::EngineConfig& engine, const std::string& path) {
  auto endpoint = admin_endpoint(engine);
  if (!endpoint) return std::nullopt;
  return "http://" + http::format_endpoint(endpoint->host, endpoint->port) + path;
}

}  // namespace

int health(const Common& common, const HealthOptions& o) {
  log::setup("error", "text");
  config::EngineConfig engine;
  config::Diagnostics diagnostics;
  if (!config::load_engine_config(common.config_file, common.config_explicit, engine, diagnostics)) {
    for (const auto& d : diagnostics) std::cerr << config::format(d) << "\n";
    return 1;
  }
  const std::string path = o.ready ? "/readyz" : "/healthz";
  std::string url = o.url;
  if (url.empty()) {
    auto from_config = admin_url(engine, path);
    if (!from_config) {
      std::cerr << "error: admin.listen is '" << engine.admin.listen
                << "' in the configuration: no fixed address to ask (pass --url)\n";
      return 1;
    }
    url = *from_config;
  }
  // The admin listener is on this host: a proxy from the environment must not answer for it.
  for (const char* name : {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"}) ::unsetenv(name);

  runtime::Io io(1);
  io.start();
  runtime::StrandExecutor executor(io.make_strand());
  log::ComponentLogger logger("health");
  HttpClientOptions options;
  options.connect_timeout = o.timeout;
  options.request_timeout = o.timeout;
  options.max_response_bytes = 64 * 1024;
  auto client = http::make_client(io, executor, logger, options);
  HttpClientRequest request;
  request.url = url;
  if (!engine.admin.token.empty()) request.headers.set("Authorization", "Bearer " + engine.admin.token);
  std::promise<Result<HttpClientResponse>> promise;
  auto future = promise.get_future();
  client->send(std::move(request), [&promise](Result<HttpClientResponse> r) { promise.set_value(std::move(r)); });
  auto result = future.get();
  client.reset();
  io.stop();
  if (!result) {
    std::cerr << "unhealthy: GET " << url << ": " << result.error().message << "\n";
    return 1;
  }
  const bool ok = result->status == 200;
  (ok ? std::cout : std::cerr) << (ok ? "" : "unhealthy: ") << "HTTP " << result->status << " " << result->body << "\n";
  return ok ? 0 : 1;
}

}  // namespace switchyard::cli
