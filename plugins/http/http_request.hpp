#pragma once
// `http.request` transform: calls an HTTP API for each event (GET, or POST with a JSON body)
// and attaches the JSON answer to the event (enrichment), through the engine's pooled client
// with the `http` sink's limits and care: certificates verified (ca_file for private CAs),
// the answer's size capped, headers redacted, scheme and host pinned by the written URL so
// an event cannot send the request (and its credentials) elsewhere. An AsyncTransform: the
// pipeline goes on while the API answers; at most `concurrency` requests are out at once.
// With `cache_ttl`, identical GETs within the TTL share one request and one answer.

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/event_path.hpp"
#include "response_cache.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::http_plugin {

extern const ComponentDecl kHttpRequestDecl;

class HttpRequestTransform final : public AsyncTransform {
 public:
  enum class OnError { fail, drop, pass };

  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void process(Event& event, TransformCallback done) override;
  void stop() override;

 private:
  struct Call;   // one event waiting for its answer
  struct Fetch;  // one request on the wire (or queued for a free slot), for one or more calls

  Result<HttpClientRequest> build(const Event& event) const;
  void send(const std::shared_ptr<Fetch>& fetch);
  void answered(const std::shared_ptr<Fetch>& fetch, Result<HttpClientResponse> result);
  void next_queued();
  void attach(const std::shared_ptr<Call>& call, const rapidjson::Value& answer);
  void fail(const std::shared_ptr<Call>& call, Error error);
  void finish(const std::shared_ptr<Call>& call, Result<Verdict> verdict);

  Context* context_ = nullptr;
  // Options.
  TextOption url_;
  std::size_t pinned_ = 0;  // length of the written prefix that fixes scheme and host
  std::string method_;
  const Template* body_ = nullptr;
  HttpHeaders headers_;
  std::vector<std::pair<std::string, TextOption>> header_templates_;
  event_path::Path into_;
  OnError on_error_ = OnError::pass;
  std::size_t concurrency_ = 8;
  std::chrono::milliseconds timeout_{5'000};
  std::chrono::milliseconds cache_ttl_{0};
  std::size_t cache_bytes_ = 0;
  HttpClientOptions client_options_;
  // Running state (strand-only).
  std::unique_ptr<HttpClient> client_;
  std::unique_ptr<ResponseCache> cache_;
  std::map<std::string, std::shared_ptr<Fetch>> sharing_;  // cache key → the GET it waits for
  std::deque<std::shared_ptr<Fetch>> queued_;              // waiting for a free slot
  std::size_t active_ = 0;                                 // requests on the wire
  std::set<std::shared_ptr<Call>> in_flight_;              // decided at stop() if still waiting
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  // Metrics.
  Histogram* latency_ = nullptr;
  Counter* failures_ = nullptr;
  Counter* cache_hits_ = nullptr;
};

}  // namespace switchyard::http_plugin
