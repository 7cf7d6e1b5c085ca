#pragma once
// `github.webhook` source: GitHub's signed webhook deliveries become events.

#include <memory>
#include <string>
#include <vector>

#include "common/intake.hpp"
#include "common/json_limits.hpp"
#include "common/signing.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::github {

extern const ComponentDecl kWebhookDecl;

/// GitHub's side of a delivery: X-Hub-Signature-256, X-GitHub-Event, X-GitHub-Delivery, a
/// JSON (or form-encoded) payload.
class WebhookProtocol final : public intake::Protocol {
 public:
  std::optional<std::string> verify(const HttpRequest& request) const override;
  intake::Admission admit(const HttpRequest& request) const override;

  signing::Keys keys;                // the secrets, prepared
  std::vector<std::string> events;   // empty: all
  std::vector<std::string> actions;  // empty: all
  std::vector<std::string> headers;  // copied into meta, lower case
  Logger* logger = nullptr;
  json_limits::Tree tree = json_limits::Tree::always;  // if_needed: nothing in the pipeline reads payloads
};

class WebhookSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override { return endpoint_.open(); }
  // While draining, deliveries get 503 + Retry-After (GitHub shows them as failed and they
  // can be redelivered) instead of 404.
  void drain(std::function<void()> done) override { endpoint_.drain(std::move(done)); }
  void stop() override { endpoint_.close(); }

 private:
  intake::Endpoint endpoint_;
};

}  // namespace switchyard::github
