// `switchyard send github EVENT FILE`: signs a payload as GitHub does and posts it.

#include <fmt/core.h>

#include <fstream>
#include <future>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "common/signing.hpp"
#include "http/client.hpp"
#include "log/logging.hpp"
#include "runtime/io.hpp"

namespace switchyard::cli {

int send_github(const SendOptions& o) {
  log::setup("warn", "text");
  std::string body;
  if (o.file == "-") {
    std::ostringstream in;
    in << std::cin.rdbuf();
    body = in.str();
  } else {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) {
      std::cerr << "error: cannot read " << o.file << "\n";
      return 1;
    }
    std::ostringstream text;
    text << in.rdbuf();
    body = text.str();
  }
  if (o.secret.empty()) {
    std::cerr << "error: no secret: pass --secret or set GITHUB_WEBHOOK_SECRET\n";
    return 1;
  }

  HttpClientRequest request;
  request.method = "POST";
  request.url = o.url;
  request.headers.set("Content-Type", "application/json");
  request.headers.set("User-Agent", "GitHub-Hookshot/switchyard-send");
  request.headers.set("X-GitHub-Event", o.event);
  request.headers.set("X-GitHub-Delivery", o.delivery.empty() ? make_event_id() : o.delivery);
  const std::string signature = signing::sign(o.secret, body);
  if (signature.empty()) {
    std::cerr << "send: OpenSSL could not compute the HMAC-SHA256 signature\n";
    return 1;
  }
  request.headers.set("X-Hub-Signature-256", signature);
  request.body = std::move(body);

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
  client->send(std::move(request), [&promise](Result<HttpClientResponse> r) { promise.set_value(std::move(r)); });
  auto result = future.get();
  client.reset();
  io.stop();
  if (!result) {
    std::cerr << "error: " << result.error().message << "\n";
    return 1;
  }
  std::cout << "HTTP " << result->status << " " << result->body << "\n";
  return result->status >= 200 && result->status < 300 ? 0 : 1;
}

}  // namespace switchyard::cli
