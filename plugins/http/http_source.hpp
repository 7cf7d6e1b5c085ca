#pragma once
// `http` source: a POST on a path becomes an event.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/signing.hpp"
#include "common/endpoint.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::http_plugin {

extern const ComponentDecl kHttpSourceDecl;

class HttpSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void drain(std::function<void()> done) override;
  void stop() override;

 private:
  enum class Auth { none, token, hmac };
  struct Settings {
    std::string method, path, event_type, event_source, id_header, signature_header;
    std::vector<std::string> headers;  // copied into meta (lower-case names)
    std::vector<std::string> secrets;  // bearer tokens (auth: token)
    signing::Keys keys;                // HMAC secrets, prepared (auth: hmac-sha256)
    Auth auth = Auth::none;
    std::size_t max_body = 0;
  };
  // Shared with handlers in flight on I/O threads (the endpoint keeps them off a stopped source).
  struct Shared {
    Settings settings;
    Context* context = nullptr;
    Counter* auth_failures = nullptr;  // switchyard_signature_failures_total
  };
  static void handle(const std::shared_ptr<Shared>& shared, const HttpRequest& request,
                     HttpReply reply);

  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  intake::Endpoint endpoint_;
};

}  // namespace switchyard::http_plugin
