// `switchyard send SERVICE [ARGUMENT] FILE`: sign a payload as the service does and post it,
// for trying pipelines by hand. The signature scheme comes from the plugin whose source
// takes the service's requests (ComponentDecl::signer): the engine knows none of them.

#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/setup.hpp"
#include "http/addresses.hpp"
#include "http/client.hpp"
#include "log/logging.hpp"
#include "runtime/io.hpp"

namespace switchyard::cli {
namespace {

// The payload file ("-": standard input), or nullopt after saying why not.
std::optional<std::string> read_body(const std::string& file) {
  std::ostringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cerr << "error: cannot read " << file << "\n";
    return std::nullopt;
  }
  text << in.rdbuf();
  return text.str();
}

// The source's default route on this engine's listener (0.0.0.0 and :: are reached on loopback).
std::string default_url(const config::EngineConfig& engine, const RequestSigner& signer) {
  auto endpoint = http::parse_endpoint(engine.http.listen);
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  if (endpoint) {
    if (!endpoint->host.empty() && endpoint->host != "0.0.0.0" && endpoint->host != "::") host = endpoint->host;
    if (endpoint->port != 0) port = endpoint->port;
  }
  const bool tls = !engine.http.tls_cert.empty();
  return std::string(tls ? "https://" : "http://") + http::format_endpoint(host, port) + signer.default_path;
}

// Posts `request` and prints the answer; 0 on a 2xx.
int post(const SendOptions& o, HttpClientRequest request) {
  runtime::Io io(1);
  io.start();
  runtime::StrandExecutor executor(io.make_strand());
  log::ComponentLogger logger("send");
  HttpClientOptions options;
  options.ca_file = o.ca_file;
  options.insecure_skip_verify = o.insecure;
  options.request_timeout = std::chrono::seconds(15);
  auto client = http::make_client(io, executor, logger, options);
  std::promise<Result<HttpClientResponse>> promise;
  auto future = promise.get_future();
  const std::string url = request.url;
  client->send(std::move(request), [&promise](Result<HttpClientResponse> r) { promise.set_value(std::move(r)); });
  auto result = future.get();
  client.reset();
  io.stop();
  if (!result) {
    std::cerr << "error: POST " << url << ": " << result.error().message << "\n";
    return 1;
  }
  std::cout << "HTTP " << result->status << " " << result->body << "\n";
  return result->status >= 200 && result->status < 300 ? 0 : 1;
}

}  // namespace

int send(const Common& common, const SendOptions& o) {
  Setup setup;
  if (!prepare(common, setup, "warn")) {
    print_diagnostics(setup.diagnostics);
    return 1;
  }
  const std::string& service = o.args.front();
  const RequestSigner* signer = nullptr;
  std::string known;
  for (const auto* c : setup.registry.components()) {
    if (c->decl->signer == nullptr) continue;
    known += (known.empty() ? "" : ", ") + std::string(c->decl->signer->service);
    if (service == c->decl->signer->service) signer = c->decl->signer;
  }
  if (signer == nullptr) {
    std::cerr << "error: no loaded plugin signs requests as '" << service << "' (known: "
              << (known.empty() ? "none" : known) << ")\n";
    return 1;
  }
  const std::size_t wanted = signer->argument ? 3 : 2;
  if (o.args.size() != wanted) {
    std::cerr << "usage: switchyard send " << service << (signer->argument ? " " + std::string(signer->argument) : "")
              << " FILE\n";
    return 1;
  }
  auto body = read_body(o.args.back());
  if (!body) return 1;
  std::string secret = o.secret;
  if (secret.empty()) {
    if (const char* s = std::getenv(signer->secret_variable)) secret = s;
  }
  if (secret.empty()) {
    std::cerr << "error: no secret: pass --secret or set " << signer->secret_variable << "\n";
    return 1;
  }
  HttpClientRequest request;
  request.method = "POST";
  request.url = o.url.empty() ? default_url(setup.engine, *signer) : o.url;
  for (const auto& h : o.headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "error: --header '" << h << "': expected Name: value\n";
      return 1;
    }
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    request.headers.set(h.substr(0, colon), value);
  }
  request.body = std::move(*body);
  if (Status s = signer->sign(secret, signer->argument ? o.args[1] : std::string(), request); !s) {
    std::cerr << "error: " << s.error().message << "\n";
    return 1;
  }
  return post(o, std::move(request));
}

}  // namespace switchyard::cli
