#pragma once
// `github.webhook` source: GitHub's signed webhook deliveries become events.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <string>
#include <vector>

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

  /// Requests refused for a missing or wrong signature so far.

 private:
  struct Settings {
    std::string path;
    signing::Keys keys;                // the secrets, prepared
    std::vector<std::string> events;   // empty: all
    std::vector<std::string> actions;  // empty: all
    std::vector<std::string> headers;  // copied into meta, lower case
    std::chrono::milliseconds dedup_window{0};
    std::size_t max_body = 0;
  };
  struct Shared {
    Settings settings;
    Context* context = nullptr;
    HttpGate gate;
    std::atomic<bool> draining{false};
    Counter* signature_failures = nullptr;  // switchyard_signature_failures_total
    std::atomic<std::uint64_t> refused{0};  // for the throttled warning
    std::atomic<std::int64_t> last_warning_ms{0};
    // Delivery ids being emitted now: a concurrent redelivery is a duplicate, but the id is
    // recorded in the state store only once the event is accepted (journaled), so a crash
    // in between never turns GitHub's retry into a "duplicate" that was never delivered.
    std::mutex inflight_mutex;
    std::unordered_set<std::string> inflight;
  };
  static void handle(const std::shared_ptr<Shared>& shared, const HttpRequest& request,
                     HttpReply reply);

  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::unique_ptr<HttpRoute> route_;
};

}  // namespace switchyard::github
