#pragma once
// `http` sink: POST/PUT each event to a URL.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/switchyard.hpp"

namespace switchyard::http_plugin {

extern const ComponentDecl kHttpSinkDecl;

class HttpSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  /// The request deliver() sends (its headers, not the client's defaults).
  Result<std::optional<Rendering>> render(const Event& event) override;
  void drain(std::function<void()> done) override { done(); }
  void stop() override { client_.reset(); }

 private:
  /// The request for `event`, or why it cannot be sent (dead-lettered).
  Result<HttpClientRequest> request_for(const Event& event) const;

  Context* context_ = nullptr;
  TextOption url_;
  std::string method_;
  bool cloudevent_ = true;
  const Template* body_ = nullptr;
  HttpHeaders headers_;                                        // constant values
  std::vector<std::pair<std::string, TextOption>> header_templates_;  // rendered per event
  HttpClientOptions client_options_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace switchyard::http_plugin
