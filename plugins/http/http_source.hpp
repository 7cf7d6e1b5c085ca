#pragma once
// `http` source: a request on a path becomes an event; optionally, the request waits for
// the pipeline's answer (a `reply` sink), which makes a pipeline a synchronous API.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/intake.hpp"
#include "common/json_limits.hpp"
#include "common/signing.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::http_plugin {

extern const ComponentDecl kHttpSourceDecl;

/// A generic webhook: any body (JSON as data, else the body as a string), authenticated by
/// nothing, a bearer token or an HMAC-SHA256 signature of the body.
class HttpProtocol final : public intake::Protocol {
 public:
  enum class Auth { none, token, hmac };

  std::optional<std::string> verify(const HttpRequest& request) const override;
  intake::Admission admit(const HttpRequest& request) const override;

  std::string event_type, event_source, id_header, signature_header;
  std::vector<std::string> headers;  // copied into meta (lower-case names)
  std::vector<std::string> secrets;  // bearer tokens (auth: token)
  signing::Keys keys;                // HMAC secrets, prepared (auth: hmac-sha256)
  Auth auth = Auth::none;
  std::chrono::milliseconds reply_within{0};
  json_limits::Tree tree = json_limits::Tree::always;  // if_needed: nothing in the pipeline reads payloads
};

class HttpSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override { return endpoint_.open(); }
  void drain(std::function<void()> done) override { endpoint_.drain(std::move(done)); }
  void stop() override { endpoint_.close(); }

 private:
  intake::Endpoint endpoint_;
};

}  // namespace switchyard::http_plugin
