// The http.request transform's declaration, its options and their checks.
#include <algorithm>
#include <array>
#include <string_view>

#include "common/http_options.hpp"
#include "http_request.hpp"

namespace switchyard::http_plugin {
namespace {

constexpr const char* kMethods[] = {"GET", "POST"};
constexpr const char* kOnError[] = {"pass", "drop", "fail"};

constexpr std::array<OptionSpec, 10> kOwnOptions = {{
    {.name = "url", .type = OptionType::text_template, .required = true,
     .description = "The API to call, rendered per event. Scheme and host must be written out (an "
                    "event may choose the path and query, never the server); pass event values "
                    "through urlencode(). A rendered path with a '..' segment fails the event.",
     .example = "https://api.github.com/users/${{ urlencode(payload.sender.login) }}"},
    {.name = "method", .type = OptionType::string, .default_value = "GET",
     .description = "GET, or POST with body.", .choices = kMethods},
    {.name = "body", .type = OptionType::json_template,
     .description = "POST only: the JSON body, built from the event.",
     .example = R"({query: "${{ payload.repository.full_name }}"})"},
    {.name = "headers", .type = OptionType::template_map,
     .description = "Request headers (Authorization, Accept...). Redacted in logs and the admin API.",
     .example = "{Authorization: \"Bearer ${GITHUB_TOKEN}\"}", .secret = true},
    {.name = "into", .type = OptionType::string, .default_value = "meta.response",
     .description = "Where the JSON answer goes: meta.<path> or payload.<path> (objects on the way "
                    "are created). An empty answer (204) is null."},
    {.name = "on_error", .type = OptionType::string, .default_value = "pass",
     .description = "When there is no usable answer (network error, timeout, a status other than "
                    "2xx, a body that is not JSON): pass the event on with null where the answer "
                    "would be, drop it (no sink gets it), or fail it (logged and counted in the "
                    "pipeline's transform errors, not delivered). Each is logged as a warning; the "
                    "source has been answered either way, so only pass delivers the event.",
     .choices = kOnError},
    {.name = "concurrency", .type = OptionType::integer, .default_value = "8",
     .description = "Most requests out at once; further events wait for a slot (within timeout)."},
    {.name = "cache_ttl", .type = OptionType::duration, .default_value = "0s",
     .description = "How long a GET's answer is reused for the same URL and headers; events asking "
                    "for it meanwhile share one request. 0s: every event makes its own request.",
     .example = "5m"},
    {.name = "cache_size", .type = OptionType::size, .default_value = "16MiB",
     .description = "Most answer bytes the cache holds; the least recently used go first."},
    // The shared client options' own timeout (10s) is GitHub's whole webhook deadline: a
    // durable pipeline answers its source only after its transforms.
    {.name = "timeout", .type = OptionType::duration, .default_value = "5s",
     .description = "Longest an event waits for its answer, waiting for a free slot included. The "
                    "source is answered after the transforms: keep it well below the sender's own "
                    "deadline (GitHub waits 10 s)."},
}};
// kClientOptions without its first entry (timeout, declared above with a lower default).
constexpr auto kOptions = [] {
  std::array<OptionSpec, kOwnOptions.size() + http_options::kClientOptions.size() - 1> all{};
  std::size_t n = 0;
  for (const auto& o : kOwnOptions) all[n++] = o;
  for (std::size_t i = 1; i < http_options::kClientOptions.size(); ++i) all[n++] = http_options::kClientOptions[i];
  return all;
}();
static_assert(std::string_view(http_options::kClientOptions[0].name) == "timeout");

}  // namespace

const ComponentDecl kHttpRequestDecl{
    .kind = ComponentKind::transform,
    .type = "http.request",
    .summary = "Calls an HTTP API for each event (GET, or POST with a JSON body) and attaches the "
               "JSON answer (enrichment), without blocking the pipeline; answers can be cached.",
    .options = kOptions,
    .create = &make_component<HttpRequestTransform>,
};

Status HttpRequestTransform::configure(const Options& options, Context& context) {
  context_ = &context;
  std::vector<std::string> errors;
  url_ = options.text("url");
  const std::string_view url = url_.literal();
  const auto scheme = url.starts_with("https://") ? 8u : url.starts_with("http://") ? 7u : 0u;
  const auto expression = url.find("${{");
  const auto authority_end = scheme == 0 ? std::string_view::npos : url.find_first_of("/?#", scheme);
  if (scheme == 0) {
    errors.push_back("url: must start with http:// or https://");
  } else if (expression != std::string_view::npos &&
             (authority_end == std::string_view::npos || authority_end > expression)) {
    // Unlike the sink's, this request's answer comes back into the event (and on to chat
    // messages, pages): an event choosing the host could read internal services.
    errors.push_back("url: write the scheme and host out, followed by '/'; an expression may "
                     "choose the path and query, not the server");
  }
  pinned_ = authority_end == std::string_view::npos ? url.size() : authority_end;
  method_ = std::string(options.string("method"));
  body_ = options.template_of("body");
  if (options.has("body") && method_ != "POST") errors.push_back("body: only with method: POST");
  if (options.has("body") && body_ == nullptr) errors.push_back("body: template was not compiled");
  for (const auto& [name, value] : options.text_map("headers")) {
    if (value.is_constant()) {
      headers_.set(std::string(name), std::string(value.literal()));
    } else {
      header_templates_.emplace_back(std::string(name), value);
    }
  }
  if (auto path = event_path::Path::parse(options.string("into")); path) {
    into_ = std::move(*path);
  } else {
    errors.push_back("into: " + path.error().message);
  }
  const std::string_view on_error = options.string("on_error");
  on_error_ = on_error == "drop" ? OnError::drop : on_error == "pass" ? OnError::pass : OnError::fail;
  const std::int64_t concurrency = options.integer("concurrency", 8);
  if (concurrency < 1 || concurrency > 1024) errors.push_back("concurrency: expected 1 to 1024");
  concurrency_ = static_cast<std::size_t>(std::clamp<std::int64_t>(concurrency, 1, 1024));
  cache_ttl_ = options.duration("cache_ttl");
  if (cache_ttl_.count() < 0) errors.push_back("cache_ttl: must not be negative");
  cache_bytes_ = static_cast<std::size_t>(options.size("cache_size"));
  if (cache_ttl_.count() > 0 && method_ != "GET") errors.push_back("cache_ttl: only GET answers are cached");
  client_options_ = http_options::client_options(options);
  timeout_ = client_options_.request_timeout;
  if (timeout_.count() <= 0) errors.push_back("timeout: must be more than 0");
  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "; ") + e;
    return invalid_config(std::move(message));
  }
  latency_ = &context.metrics().histogram("switchyard_http_request_seconds",
                                          "Time from an event's arrival at http.request to its answer (or failure).");
  failures_ = &context.metrics().counter("switchyard_http_request_failures_total",
                                         "Events http.request found no usable answer for (on_error decides their fate).");
  cache_hits_ = &context.metrics().counter("switchyard_http_request_cache_hits_total",
                                           "Events http.request answered from its cache.");
  return {};
}

}  // namespace switchyard::http_plugin
