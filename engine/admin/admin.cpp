#include "admin/admin.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>

#include "admin/console.hpp"
#include "admin/request_guard.hpp"
#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"
#include "http/server.hpp"
#include "journal/codec.hpp"
#include "journal/dead_letters.hpp"
#include "log/logging.hpp"
#include "metrics/process.hpp"
#include "metrics/registry.hpp"
#include "runtime/event_tap.hpp"
#include "runtime/pipeline.hpp"
#include "switchyard/units.hpp"

namespace switchyard::admin {
namespace {

constexpr const char* kPipelineUp = "switchyard_pipeline_up";
constexpr const char* kPipelineUpHelp =
    "1 while the pipeline runs; 0 while its file is invalid or it failed to start (see /api/pipelines).";

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void str(JsonWriter& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void num(JsonWriter& w, const char* key, std::uint64_t value) {
  w.Key(key);
  w.Uint64(value);
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// The value of `name` in a query string ("a=1&b=2"), percent-decoded.
std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

HttpResponse json(int status, const rapidjson::StringBuffer& buffer) {
  return HttpResponse::json(status, std::string(buffer.GetString(), buffer.GetSize()));
}

// `unhealthy`: what components of any pipeline report; this pipeline's go in "problems".
void write_pipeline(JsonWriter& w, runtime::Pipeline& p, const std::vector<ComponentProblem>& unhealthy) {
  const auto& c = p.config();
  const auto stats = p.stats(/*backlog=*/true);
  auto component = [&](const config::ComponentConfig& cc) {
    str(w, "name", cc.name);
    str(w, "type", cc.type);
    w.Key("options");
    if (cc.redacted) {
      cc.redacted->Accept(w);
    } else {
      w.StartObject();
      w.EndObject();
    }
  };
  w.StartObject();
  str(w, "name", c.name);
  str(w, "file", c.file);
  str(w, "state", "running");
  str(w, "durability", c.durability == config::Durability::disk ? "disk" : "memory");
  num(w, "received", stats.received);
  // Every request or event the pipeline refused: for a bad signature (the source's 401s, as
  // switchyard_signature_failures_total counts them) or while saturated or stopping.
  num(w, "refused", stats.refused + stats.refused_signature);
  num(w, "refused_signature", stats.refused_signature);
  num(w, "refused_saturated", stats.refused);
  num(w, "dropped", stats.dropped);
  num(w, "transform_errors", stats.transform_errors);
  w.Key("last_error");
  if (stats.last_error.empty()) w.Null(); else w.String(stats.last_error.c_str());
  w.Key("last_refusal");
  if (stats.last_refusal.empty()) w.Null(); else w.String(stats.last_refusal.c_str());
  // Events that did not reach a sink (or one sink), by component and reason: what
  // switchyard_events_dropped_total counts for this version of the pipeline.
  w.Key("drops");
  w.StartArray();
  for (const auto& d : stats.drops) {
    if (d.count == 0) continue;
    w.StartObject();
    str(w, "component", d.component);
    str(w, "reason", d.reason);
    num(w, "count", d.count);
    w.EndObject();
  }
  w.EndArray();
  // The first source as "source" (what a one-source pipeline has), and every one in "sources".
  // What its running components report they cannot do now (Context::report_health).
  w.Key("problems");
  w.StartArray();
  for (const auto& u : unhealthy) {
    if (u.pipeline != c.name) continue;
    w.StartObject();
    str(w, "component", u.component);
    str(w, "problem", u.problem);
    w.EndObject();
  }
  w.EndArray();
  w.Key("source");
  w.StartObject();
  if (!c.sources.empty()) component(c.sources.front());
  w.EndObject();
  w.Key("sources");
  w.StartArray();
  for (const auto& s : c.sources) {
    w.StartObject();
    component(s);
    w.EndObject();
  }
  w.EndArray();
  w.Key("transforms");
  w.StartArray();
  for (const auto& t : c.transforms) {
    w.StartObject();
    component(t);
    w.EndObject();
  }
  w.EndArray();
  w.Key("sinks");
  w.StartArray();
  for (std::size_t i = 0; i < c.sinks.size() && i < stats.sinks.size(); ++i) {
    const auto& s = stats.sinks[i];
    w.StartObject();
    component(c.sinks[i]);
    num(w, "delivered", s.delivered);
    num(w, "failed", s.failed);
    num(w, "retried", s.retried);
    num(w, "dead_lettered", s.dead_lettered);
    num(w, "skipped", s.skipped);
    num(w, "backlog", s.backlog);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace

// The admin listener: the http listener's limits, with a small body limit (the API takes
// only small JSON commands) and its own series in the metrics.
http::ServerSettings admin_listener(const std::string& listen, metrics::Registry& metrics) {
  http::ServerSettings s = config::listener_settings("admin", listen);
  s.max_body = 1024 * 1024;
  s.metrics = &metrics;
  return s;
}

struct Admin::Impl {
  Impl(runtime::Io& io, Settings s, metrics::Registry& m, Hooks h)
      : server_io(io), settings(std::move(s)), metrics(m), hooks(std::move(h)),
        server(io, admin_listener(settings.listen, metrics)) {}

  runtime::Io& server_io;
  Settings settings;
  metrics::Registry& metrics;
  Hooks hooks;
  RequestGuard guard{settings.allowed_hosts};
  http::Server server;
  std::vector<std::unique_ptr<HttpRoute>> routes;
  std::mutex dlq_mutex;
  std::optional<journal::DeadLetters> dlq;  // opened on first use
  // The live console (GET /, GET /api/stream) and the recent events the pipelines feed it.
  std::shared_ptr<runtime::EventTap> tap = std::make_shared<runtime::EventTap>();
  Console console{server_io, tap, [this] { return pipelines().body; }};

  // `query_token`: also accept ?token=<admin.token> (the console's page and stream: a browser
  // opening a page, and EventSource, cannot send an Authorization header).
  bool authorized(const HttpRequest& request, bool query_token = false) const {
    if (settings.token.empty()) return true;
    // Digests compared in constant time: neither the token's content nor its length shows in
    // how long a wrong guess takes.
    auto same = [](std::string_view given, std::string_view expected) {
      unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), a);
      SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b);
      return CRYPTO_memcmp(a, b, sizeof a) == 0;
    };
    if (same(request.headers.get("Authorization").value_or(""), "Bearer " + settings.token)) return true;
    if (!query_token) return false;
    const auto given = query_param(request.query, "token");
    return given && same(*given, settings.token);
  }

  static HttpResponse unauthorized() {
    HttpResponse r = HttpResponse::error(401, "missing or wrong bearer token (admin.token)");
    r.headers.set("WWW-Authenticate", "Bearer realm=\"switchyard\"");
    return r;
  }

  Status add(const char* method, const char* path, std::function<HttpResponse(const HttpRequest&)> handle,
             bool query_token = false) {
    auto route = server.add(method, path, [this, handle = std::move(handle), query_token](const HttpRequest& request,
                                                                                        HttpReply reply) {
      if (!authorized(request, query_token)) return reply(unauthorized());
      if (auto refusal = guard.check(request)) return reply(std::move(*refusal));
      try {
        reply(handle(request));
      } catch (const std::exception& ex) {
        reply(HttpResponse::error(500, ex.what()));
      }
    });
    if (!route) return route.error();
    routes.push_back(std::move(*route));
    return {};
  }

  // Gauges read at scrape time: each sink's backlog and dead letters.
  void collect() {
    auto pipelines = hooks.pipelines();
    std::map<std::pair<std::string, std::string>, std::int64_t> dead;
    {
      std::lock_guard lock(dlq_mutex);
      if (open_dlq()) {
        if (auto counts = dlq->counts()) {
          for (auto& [key, n] : *counts) dead[key] = n;
        }
      }
    }
    for (const auto& p : pipelines) {
      const auto stats = p->stats(/*backlog=*/true);
      const auto& sinks = p->config().sinks;
      for (std::size_t i = 0; i < sinks.size() && i < stats.sinks.size(); ++i) {
        const MetricLabels labels{{"pipeline", p->name()}, {"component", sinks[i].name}};
        metrics.gauge(metrics::names::kQueueDepth, "Events waiting for this sink (in memory or in the journal).", labels)
            .set(static_cast<double>(stats.sinks[i].backlog));
        auto it = dead.find({p->name(), sinks[i].name});
        metrics.gauge(metrics::names::kDlqEvents, "Events of this sink in the dead-letter queue.", labels)
            .set(it == dead.end() ? 0 : static_cast<double>(it->second));
      }
      // Events its transforms failed, under the transform's label ("transforms[0] 'map'").
      for (std::size_t i = 0; i < p->config().transforms.size(); ++i) {
        const std::string label = "transforms[" + std::to_string(i) + "] '" + p->config().transforms[i].name + "'";
        auto it = dead.find({p->name(), label});
        metrics.gauge(metrics::names::kDlqEvents, "Events of this sink in the dead-letter queue.",
                      MetricLabels{{"pipeline", p->name()}, {"component", label}})
            .set(it == dead.end() ? 0 : static_cast<double>(it->second));
      }
    }
    // Whether each pipeline serves: 1 running, 0 when its file is invalid or it failed.
    for (const auto& p : pipelines) {
      metrics.gauge(kPipelineUp, kPipelineUpHelp, MetricLabels{{"pipeline", p->name()}}).set(1);
    }
    if (hooks.problems) {
      for (const auto& problem : hooks.problems()) {
        const bool runs = std::any_of(pipelines.begin(), pipelines.end(), [&](auto& p) { return p->name() == problem.name; });
        if (!runs && !problem.name.empty()) {
          metrics.gauge(kPipelineUp, kPipelineUpHelp, MetricLabels{{"pipeline", problem.name}}).set(0);
        }
      }
    }
    if (const auto journal = hooks.journal_gauges ? hooks.journal_gauges() : std::nullopt) {
      metrics.gauge("switchyard_journal_bytes", "Live data in the journal (pages in use): what state.max_bytes caps.", {})
          .set(static_cast<double>(journal->bytes));
      const double age = journal->oldest_pending
                             ? std::max(0.0, static_cast<double>(unix_ms_now() - *journal->oldest_pending) / 1000.0)
                             : 0.0;
      metrics.gauge("switchyard_journal_oldest_undelivered_seconds",
                    "Age of the oldest journaled event some sink has not finished with; 0 when none.", {})
          .set(age);
    }
    metrics::collect_process(metrics);
  }

  // Call with dlq_mutex held.
  bool open_dlq() {
    if (dlq) return true;
    if (settings.state_dir.empty()) return false;
    auto opened = journal::DeadLetters::open(settings.state_dir);
    if (!opened) return false;
    dlq.emplace(std::move(*opened));
    return true;
  }

  Result<journal::DeadLetterFilter> filter_from_json(std::string_view body, bool need_selection) {
    rapidjson::Document doc;
    // Iterative: a body of a million '[' would overflow the recursive parser's stack. Only
    // top-level members are read; nothing walks the values recursively.
    doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
    if (doc.HasParseError() || !doc.IsObject()) return invalid_config("the body must be a JSON object");
    journal::DeadLetterFilter f;
    bool all = false;
    for (auto& m : doc.GetObject()) {
      const std::string_view key(m.name.GetString(), m.name.GetStringLength());
      if (key == "ids" && m.value.IsArray()) {
        for (auto& id : m.value.GetArray()) {
          if (!id.IsInt64()) return invalid_config("ids: expected integers");
          f.ids.push_back(id.GetInt64());
        }
      } else if (key == "pipeline" && m.value.IsString()) {
        f.pipeline = m.value.GetString();
      } else if (key == "sink" && m.value.IsString()) {
        f.sink = m.value.GetString();
      } else if (key == "older_than" && m.value.IsString()) {
        auto d = parse_duration(m.value.GetString());
        if (!d) return invalid_config("older_than: not a duration (e.g. 30m, 2h)");
        f.older_than = *d;
      } else if (key == "all" && m.value.IsBool()) {
        all = m.value.GetBool();
      } else {
        return invalid_config("unknown or mistyped key '" + std::string(key) + "' (ids, pipeline, sink, older_than, all)");
      }
    }
    if (need_selection && f.ids.empty() && f.pipeline.empty() && f.sink.empty() && !f.older_than && !all) {
      return invalid_config("name ids, a filter (pipeline, sink, older_than) or all: true");
    }
    return f;
  }

  Result<journal::DeadLetterFilter> filter_from_query(std::string_view query) {
    journal::DeadLetterFilter f;
    f.pipeline = query_param(query, "pipeline").value_or("");
    f.sink = query_param(query, "sink").value_or("");
    if (auto older = query_param(query, "older_than")) {
      auto d = parse_duration(*older);
      if (!d) return invalid_config("older_than: not a duration (e.g. 30m, 2h)");
      f.older_than = *d;
    }
    return f;
  }

  Status routes_up() {
    for (Status s : {
             add("GET", "/", [](const HttpRequest&) { return Console::page(); }, /*query_token=*/true),
             add_stream(),
             add("GET", "/metrics", [this](const HttpRequest&) {
               HttpResponse r;
               r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
               r.body = metrics.serialize();
               return r;
             }),
             add("GET", "/healthz", [](const HttpRequest&) { return HttpResponse::json(200, R"({"status":"ok"})"); }),
             add("GET", "/readyz", [this](const HttpRequest&) { return readyz(); }),
             add("GET", "/api/pipelines", [this](const HttpRequest&) { return pipelines(); }),
             add("GET", "/api/dlq", [this](const HttpRequest& r) { return dlq_list(r); }),
             add("GET", "/api/dlq/entry", [this](const HttpRequest& r) { return dlq_entry(r); }),
             add("POST", "/api/dlq/replay", [this](const HttpRequest& r) { return dlq_change(r, true); }),
             add("POST", "/api/dlq/drop", [this](const HttpRequest& r) { return dlq_change(r, false); }),
         }) {
      if (!s) return s;
    }
    if (hooks.reload) {
      // Answered once the reload is applied (on the engine's reload thread).
      auto route = server.add("POST", "/api/reload", [this](const HttpRequest& request, HttpReply reply) {
        if (!authorized(request)) return reply(unauthorized());
        if (auto refusal = guard.check(request)) return reply(std::move(*refusal));
        hooks.reload([reply](Result<std::string> summary) {
          if (!summary) return reply(HttpResponse::error(422, summary.error().message));
          reply(HttpResponse::json(200, "{\"status\":\"reloaded\",\"summary\":" + HttpResponse::json_quote(*summary) + "}"));
        });
      });
      if (!route) return route.error();
      routes.push_back(std::move(*route));
    }
    return {};
  }

  Status add_stream() {
    auto route = server.add_event_stream(
        "/api/stream", [this](const HttpRequest& request, std::shared_ptr<http::EventStream> stream) {
          if (!authorized(request, /*query_token=*/true)) return std::optional<HttpResponse>(unauthorized());
          if (auto refusal = guard.check(request)) return refusal;
          const auto payload = query_param(request.query, "payload");
          const bool payloads = payload && (*payload == "1" || *payload == "true");
          if (payloads && settings.token.empty()) {
            // Payloads carry what senders sent (names, e-mail addresses, code): only to a
            // holder of the admin token, never to anyone who can reach an open admin port.
            return std::optional<HttpResponse>(HttpResponse::error(
                403, "payloads are served only when admin.token is set (and given): set admin.token to tap them"));
          }
          return console.subscribe(std::move(stream), payloads);
        });
    if (!route) return route.error();
    routes.push_back(std::move(*route));
    return {};
  }

  // Ready unless what should serve cannot: a file that fails validation (or a new version
  // that fails to start) leaves the running pipelines serving, so it is listed, not fatal.
  HttpResponse readyz() {
    const auto problems = hooks.problems();
    // A journal that cannot keep events makes every durable pipeline refuse them.
    const auto journal = hooks.journal ? hooks.journal() : std::nullopt;
    const auto listener = hooks.listener ? hooks.listener() : std::nullopt;
    const auto unhealthy = hooks.health ? hooks.health() : std::vector<ComponentProblem>{};
    bool ready = !journal && !listener && unhealthy.empty();
    for (const auto& p : problems) ready &= !p.blocks_readiness;
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    str(w, "status", ready ? "ready" : "not ready");
    w.Key("pipelines");
    w.Uint64(hooks.pipelines().size());
    w.Key("reasons");
    w.StartArray();
    if (journal) w.String(("journal: " + *journal).c_str());
    if (listener) w.String(("http listener: " + *listener).c_str());
    for (const auto& u : unhealthy) w.String((u.pipeline + "/" + u.component + ": " + u.problem).c_str());
    for (const auto& p : problems) {
      if (p.blocks_readiness) w.String((p.name + " (" + p.file + "): " + p.error).c_str());
    }
    w.EndArray();
    // Files that are not applied but leave what runs serving (see GET /api/pipelines).
    w.Key("failed_files");
    w.StartArray();
    for (const auto& p : problems) {
      if (!p.blocks_readiness) w.String((p.name + " (" + p.file + "): " + p.error).c_str());
    }
    w.EndArray();
    w.EndObject();
    return json(ready ? 200 : 503, buffer);
  }

  HttpResponse pipelines() {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartArray();
    const auto unhealthy = hooks.health ? hooks.health() : std::vector<ComponentProblem>{};
    for (const auto& p : hooks.pipelines()) write_pipeline(w, *p, unhealthy);
    for (const auto& p : hooks.problems()) {
      w.StartObject();
      str(w, "name", p.name);
      str(w, "file", p.file);
      str(w, "state", "failed");
      str(w, "last_error", p.error);
      // One entry per line: each a file:line:col diagnostic.
      w.Key("errors");
      w.StartArray();
      for (std::size_t at = 0; at <= p.error.size();) {
        const auto end = std::min(p.error.find('\n', at), p.error.size());
        if (end > at) w.String(p.error.data() + at, static_cast<rapidjson::SizeType>(end - at));
        at = end + 1;
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    return json(200, buffer);
  }

  HttpResponse dlq_list(const HttpRequest& request) {
    auto filter = filter_from_query(request.query);
    if (!filter) return HttpResponse::error(400, filter.error().message);
    std::lock_guard lock(dlq_mutex);
    if (!open_dlq()) return HttpResponse::error(503, "no journal (state.dir)");
    auto entries = dlq->list(*filter, 1000);
    if (!entries) return HttpResponse::error(500, entries.error().message);
    return HttpResponse::json(200, journal::dead_letters_json(*entries));
  }

  HttpResponse dlq_entry(const HttpRequest& request) {
    const auto id_text = query_param(request.query, "id");
    std::int64_t id = 0;
    try {
      std::size_t used = 0;
      id = id_text ? std::stoll(*id_text, &used) : 0;
      if (!id_text || used != id_text->size()) throw std::invalid_argument("id");
    } catch (const std::exception&) {
      return HttpResponse::error(400, "expected ?id=<entry id>");
    }
    std::lock_guard lock(dlq_mutex);
    if (!open_dlq()) return HttpResponse::error(503, "no journal (state.dir)");
    auto entry = dlq->get(id);
    if (!entry) return HttpResponse::error(500, entry.error().message);
    if (!*entry) return HttpResponse::error(404, "no dead-letter entry " + std::to_string(id));
    if (settings.token.empty()) {
      // The event is what its sender sent (names, e-mail addresses, code, request headers):
      // as with the stream's payloads, only to a holder of the admin token.
      return HttpResponse::error(403, "dead-letter payloads are served only when admin.token is set (and given); "
                                      "`switchyard dlq show " + std::to_string(id) + "` reads them on the engine's host");
    }
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    journal::write_dead_letter_with_event(w, **entry);
    return json(200, buffer);
  }

  HttpResponse dlq_change(const HttpRequest& request, bool replay) {
    auto filter = filter_from_json(request.body, true);
    if (!filter) return HttpResponse::error(400, filter.error().message);
    std::lock_guard lock(dlq_mutex);
    if (!open_dlq()) return HttpResponse::error(503, "no journal (state.dir)");
    auto n = replay ? dlq->replay(*filter) : dlq->drop(*filter);
    if (!n) return HttpResponse::error(500, n.error().message);
    return HttpResponse::json(200, std::string("{\"") + (replay ? "replayed" : "dropped") + "\":" + std::to_string(*n) + "}");
  }
};

Admin::Admin(runtime::Io& io, Settings settings, metrics::Registry& metrics, Hooks hooks)
    : impl_(std::make_unique<Impl>(io, std::move(settings), metrics, std::move(hooks))) {}

Admin::~Admin() { stop(); }

Status Admin::start() {
  auto& s = impl_->settings;
  impl_->metrics.gauge(metrics::names::kBuildInfo, "Always 1; the version label says which build runs.",
                       {{"version", s.version}})
      .set(1);
  for (const char* result : {"ok", "error"}) {
    (void)impl_->metrics.counter(metrics::names::kReloads, "Pipeline reloads, by result (ok, error).",
                                 {{"result", result}});
  }
  impl_->metrics.set_collector([impl = impl_.get()] { impl->collect(); });
  if (s.listen.empty()) return {};
  if (Status st = impl_->routes_up(); !st) return st;
  if (Status st = impl_->server.open(); !st) return st;
  if (s.token.empty() && s.listen.rfind("127.", 0) != 0 && s.listen.rfind("[::1]", 0) != 0 &&
      s.listen.rfind("localhost", 0) != 0) {
    log::engine().warn("admin.listen {} is not loopback and admin.token is empty: anyone who can reach it can "
                       "replay and drop dead letters", s.listen);
  }
  return {};
}

std::shared_ptr<runtime::EventTap> Admin::tap() const {
  return impl_->settings.listen.empty() ? nullptr : impl_->tap;
}

void Admin::stop() {
  impl_->console.stop();
  impl_->metrics.set_collector(nullptr);
  impl_->routes.clear();
  impl_->server.close();
}

}  // namespace switchyard::admin
