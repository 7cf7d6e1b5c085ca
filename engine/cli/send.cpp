// `switchyard send github EVENT FILE` and `send slack FILE`: sign a payload as GitHub or
// Slack does and post it, for trying pipelines by hand.

#include <fmt/core.h>

#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/commands.hpp"
#include "common/signing.hpp"
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

// Posts `request` and prints the answer; 0 on a 2xx.
int post(const SendOptions& o, HttpClientRequest request) {
  request.method = "POST";
  request.url = o.url;
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

}  // namespace

int send_github(const SendOptions& o) {
  log::setup("warn", "text");
  auto body = read_body(o.file);
  if (!body) return 1;
  if (o.secret.empty()) {
    std::cerr << "error: no secret: pass --secret or set GITHUB_WEBHOOK_SECRET\n";
    return 1;
  }
  HttpClientRequest request;
  request.headers.set("Content-Type", "application/json");
  request.headers.set("User-Agent", "GitHub-Hookshot/switchyard-send");
  request.headers.set("X-GitHub-Event", o.event);
  request.headers.set("X-GitHub-Delivery", o.delivery.empty() ? make_event_id() : o.delivery);
  const std::string signature = signing::sign(o.secret, *body);
  if (signature.empty()) {
    std::cerr << "send: OpenSSL could not compute the HMAC-SHA256 signature\n";
    return 1;
  }
  request.headers.set("X-Hub-Signature-256", signature);
  request.body = std::move(*body);
  return post(o, std::move(request));
}

int send_slack(const SendOptions& o) {
  log::setup("warn", "text");
  auto body = read_body(o.file);
  if (!body) return 1;
  if (o.secret.empty()) {
    std::cerr << "error: no signing secret: pass --secret or set SLACK_SIGNING_SECRET\n";
    return 1;
  }
  // Slash commands and interactions come as forms, Events API callbacks as JSON.
  const bool json = body->find_first_not_of(" \t\r\n") != std::string::npos &&
                    (*body)[body->find_first_not_of(" \t\r\n")] == '{';
  const std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const auto digest = signing::hmac_sha256(o.secret, "v0:" + timestamp + ":" + *body);
  if (!digest) {
    std::cerr << "send: OpenSSL could not compute the HMAC-SHA256 signature\n";
    return 1;
  }
  HttpClientRequest request;
  request.headers.set("Content-Type", json ? "application/json" : "application/x-www-form-urlencoded");
  request.headers.set("User-Agent", "Slackbot 1.0 (switchyard send)");
  request.headers.set("X-Slack-Request-Timestamp", timestamp);
  request.headers.set("X-Slack-Signature", "v0=" + signing::to_hex(*digest));
  request.body = std::move(*body);
  return post(o, std::move(request));
}

}  // namespace switchyard::cli
