#pragma once
// `github.webhook` source: GitHub's signed webhook deliveries become events.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/endpoint.hpp"
#include "common/redelivery.hpp"
#include "common/signing.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::github {

extern const ComponentDecl kWebhookDecl;

class WebhookSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void drain(std::function<void()> done) override;
  void stop() override;

 private:
  struct Settings {
    std::string path;
    signing::Keys keys;                // the secrets, prepared
    std::vector<std::string> events;   // empty: all
    std::vector<std::string> actions;  // empty: all
    std::vector<std::string> headers;  // copied into meta, lower case
    std::size_t max_body = 0;
  };
  struct Shared {
    Settings settings;
    Context* context = nullptr;
    intake::Endpoint::Gate running;  // the endpoint's: open while the source runs
    Counter* signature_failures = nullptr;  // switchyard_signature_failures_total
    intake::ThrottledWarning refusals;
    intake::Redeliveries redeliveries;
  };
  static void handle(const std::shared_ptr<Shared>& shared, const HttpRequest& request,
                     HttpReply reply);

  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  intake::Endpoint endpoint_;
};

}  // namespace switchyard::github
