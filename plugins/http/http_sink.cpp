#include "http_sink.hpp"

#include <algorithm>
#include <array>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/http_options.hpp"
#include "rendered_url.hpp"

namespace switchyard::http_plugin {
namespace {

constexpr const char* kMethods[] = {"POST", "PUT", "PATCH"};
constexpr const char* kFormats[] = {"cloudevent", "data"};

constexpr std::array<OptionSpec, 5> kOwnOptions = {{
    {.name = "url", .type = OptionType::text_template, .required = true,
     .description = "Endpoint the events are sent to (http:// or https://).",
     .example = "https://example.com/hooks/${{ payload.repository.name }}"},
    {.name = "method", .type = OptionType::string, .default_value = "POST",
     .description = "HTTP method.", .choices = kMethods},
    {.name = "body", .type = OptionType::json_template,
     .description = "JSON body built from the event; when absent, the body follows format.",
     .example = R"({text: "${{ event.type }} on ${{ payload.repository.full_name }}"})"},
    {.name = "format", .type = OptionType::string, .default_value = "cloudevent",
     .description = "Without body: cloudevent sends the structured CloudEvents JSON "
                    "(application/cloudevents+json), data sends the payload alone.",
     .choices = kFormats},
    {.name = "headers", .type = OptionType::template_map,
     .description = "Extra request headers (e.g. Authorization). Redacted in logs and the admin API.",
     .example = "{Authorization: \"Bearer ${TOKEN}\"}", .secret = true},
}};
constexpr auto kOptions = http_options::with_client_options(kOwnOptions);

}  // namespace

const ComponentDecl kHttpSinkDecl{
    .kind = ComponentKind::sink,
    .type = "http",
    .summary = "Sends each event to a URL; 2xx is success, 408/429/5xx and network errors "
               "are retried (honouring Retry-After), other answers dead-letter the event.",
    .options = kOptions,
    .create = &make_component<HttpSink>,
};

Status HttpSink::configure(const Options& options, Context& context) {
  context_ = &context;
  url_ = options.text("url");
  method_ = options.string("method");
  cloudevent_ = options.string("format") == "cloudevent";
  body_ = options.template_of("body");
  if (options.has("body") && body_ == nullptr) return invalid_config("body: template was not compiled");
  for (const auto& [name, value] : options.text_map("headers")) {
    if (value.is_constant()) {
      headers_.set(std::string(name), std::string(value.literal()));
    } else {
      header_templates_.emplace_back(std::string(name), value);
    }
  }
  // A URL that starts with an expression is checked per event instead.
  const std::string_view url = url_.literal();
  if (!url.starts_with("${{") && !url.starts_with("http://") && !url.starts_with("https://")) {
    return invalid_config("url: must start with http:// or https://");
  }
  if (!url_.is_constant()) {
    // When the written text fixes scheme and host before the first expression, every
    // rendered URL keeps them (it starts with that text): an event cannot send this sink's
    // requests, and its headers, elsewhere. When an expression decides the host, say so.
    const auto expression = url.find("${{");
    const auto scheme = url.find("://");
    const auto authority_end = scheme == std::string_view::npos ? std::string_view::npos
                                                                : url.find_first_of("/?#", scheme + 3);
    if (authority_end == std::string_view::npos || authority_end > expression) {
      context.logger().warn("url: an expression decides the host, so events choose where this sink's "
                            "requests and headers go; write the scheme and host out to pin them");
    }
  }
  client_options_ = http_options::client_options(options);
  return {};
}

Status HttpSink::start() {
  client_ = context_->http_client(client_options_);
  return {};
}

Result<HttpClientRequest> HttpSink::request_for(const Event& event) const {
  HttpClientRequest request;
  request.method = method_;
  request.url = url_.render(event);
  if (!url_.is_constant()) {
    // The URL is not quoted: its path and query may hold a ${VAR} token or key, and the
    // error is logged and kept with the dead letter (`switchyard render` shows it).
    if (!request.url.starts_with("http://") && !request.url.starts_with("https://")) {
      return permanent("url: the url template gave no http:// or https:// URL for this event");
    }
    // An issue titled ".." must not turn /tenants/<title>/notify into /notify (with the
    // sink's credentials): no dot segment or backslash from the event, as for http.request.
    if (Status s = check_rendered_url(request.url, authority_end(request.url)); !s) return s.error();
  }
  request.headers = headers_;
  for (const auto& [name, value] : header_templates_) {
    std::string rendered = value.render(event);
    // A value taken from the event must not smuggle in a header of its own.
    if (rendered.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return permanent("header " + name + ": the rendered value holds a line break");
    }
    request.headers.set(name, std::move(rendered));
  }
  if (body_ != nullptr) {
    rapidjson::Document doc;
    body_->render(event, doc, doc.GetAllocator());
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    doc.Accept(writer);
    request.body.assign(buffer.GetString(), buffer.GetSize());
    if (!request.headers.get("Content-Type")) request.headers.set("Content-Type", "application/json");
  } else if (cloudevent_) {
    request.body = to_cloudevent_json(event);
    if (!request.headers.get("Content-Type")) {
      request.headers.set("Content-Type", "application/cloudevents+json");
    }
  } else {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    event.data.Accept(writer);
    request.body.assign(buffer.GetString(), buffer.GetSize());
    if (!request.headers.get("Content-Type")) request.headers.set("Content-Type", "application/json");
  }
  if (!request.headers.get("Idempotency-Key")) request.headers.set("Idempotency-Key", event.id);
  return request;
}

void HttpSink::deliver(EventPtr event, DeliveryCallback done) {
  auto request = request_for(*event);
  if (!request) return done(request.error());
  client_->send(std::move(*request), [done = std::move(done)](Result<HttpClientResponse> result) {
    if (!result) return done(result.error());
    done(classify_http_response(*result));
  });
}

Result<std::optional<Rendering>> HttpSink::render(const Event& event) {
  auto request = request_for(event);
  if (!request) return request.error();
  return std::optional<Rendering>(Rendering{.method = std::move(request->method),
                                            .url = std::move(request->url),
                                            .headers = std::move(request->headers),
                                            .body = std::move(request->body)});
}

}  // namespace switchyard::http_plugin

