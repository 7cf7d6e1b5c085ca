// `switchyard tap PIPELINE`: follows a running engine's admin stream (GET /api/stream, the
// console's Server-Sent Events) and prints one JSON line per stage an event of PIPELINE
// passes: through the transforms (kept or dropped/failed), then each sink's attempt
// (delivered, failed, dead_lettered). Events recorded before it connected are not printed.
// With --payload, the stream is asked for payloads (GET /api/stream?payload=1) and the
// transforms line carries "data": the payload as the sinks get it (up to 64 KiB; larger
// ones are given by their "data_size").

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <iostream>
#include <map>
#include <set>

#include "cli/commands.hpp"
#include "cli/setup.hpp"
#include "config/engine_config.hpp"
#include "http/addresses.hpp"
#include "log/logging.hpp"

namespace switchyard::cli {
namespace {

namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;

// What was printed of one event: the transforms' verdict, and each sink's attempts.
struct Printed {
  bool verdict = false;
  std::set<std::string> outcomes;  // "sink\nattempt\noutcome"
};

class Printer {
 public:
  explicit Printer(std::string pipeline) : pipeline_(std::move(pipeline)) {}

  // One `events` frame: {"events":[{pipeline,id,type,time,kept,sinks:[{sink,outcome,attempt,error}]}]}.
  void frame(std::string_view data) {
    rapidjson::Document doc;
    doc.Parse(data.data(), data.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("events") || !doc["events"].IsArray()) return;
    for (const auto& e : doc["events"].GetArray()) {
      if (!e.IsObject() || !e.HasMember("pipeline") || e["pipeline"].GetString() != pipeline_) continue;
      const std::string id = e["id"].GetString();
      Printed& printed = printed_[id];
      if (!printed.verdict) {
        printed.verdict = true;
        if (!first_) line(e, "transforms", e["kept"].GetBool() ? "kept" : "dropped", nullptr);
      }
      for (const auto& s : e["sinks"].GetArray()) {
        const std::string key = std::string(s["sink"].GetString()) + "\n" + std::to_string(s["attempt"].GetUint()) +
                                "\n" + s["outcome"].GetString();
        if (!printed.outcomes.insert(key).second || first_) continue;
        line(e, "sink", s["outcome"].GetString(), &s);
      }
    }
    first_ = false;
    if (printed_.size() > 10000) printed_.clear();  // bounded; the stream keeps 100 events
  }

 private:
  void line(const rapidjson::Value& e, const char* stage, const char* outcome, const rapidjson::Value* sink) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    for (const char* key : {"time", "pipeline", "id", "type", "subject"}) {
      if (!e.HasMember(key) || !e[key].IsString()) continue;
      w.Key(key == std::string_view("id") ? "event_id" : key);
      w.String(e[key].GetString());
    }
    w.Key("stage");
    w.String(stage);
    if (sink) {
      w.Key("component");
      w.String((*sink)["sink"].GetString());
      w.Key("attempt");
      w.Uint((*sink)["attempt"].GetUint());
    }
    w.Key("outcome");
    w.String(outcome);
    if (!sink) {
      for (const char* key : {"data", "data_size"}) {
        if (!e.HasMember(key)) continue;
        w.Key(key);
        e[key].Accept(w);
      }
    }
    if (sink && sink->HasMember("error")) {
      w.Key("error");
      w.String((*sink)["error"].GetString());
    }
    w.EndObject();
    std::cout << buffer.GetString() << std::endl;
  }

  std::string pipeline_;
  bool first_ = true;  // the stream's first frame: what happened before tap connected
  std::map<std::string, Printed> printed_;
};

}  // namespace

int tap(const Common& common, const TapOptions& options) {
  log::setup("error", "text");
  config::EngineConfig engine;
  config::Diagnostics diagnostics;
  if (!config::load_engine_config(common.config_file, common.config_explicit, engine, diagnostics)) {
    for (const auto& d : diagnostics) std::cerr << config::format(d) << "\n";
    return 1;
  }
  std::string host, port;
  if (!options.admin.empty()) {
    const auto colon = options.admin.rfind(':');
    host = options.admin.substr(0, colon);
    port = colon == std::string::npos ? "" : options.admin.substr(colon + 1);
  } else if (auto endpoint = admin_endpoint(engine)) {
    host = endpoint->host;
    port = std::to_string(endpoint->port);
  }
  if (host.empty() || port.empty()) {
    std::cerr << "error: admin.listen is '" << engine.admin.listen
              << "' in the configuration: no fixed address to ask (pass --admin HOST:PORT)\n";
    return 1;
  }
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    tcp::socket socket(io);
    boost::asio::connect(socket, resolver.resolve(host, port));
    beast::http::request<beast::http::empty_body> request(beast::http::verb::get,
                                                          options.payload ? "/api/stream?payload=1" : "/api/stream", 11);
    request.set(beast::http::field::host, host + ":" + port);
    request.set(beast::http::field::accept, "text/event-stream");
    if (!engine.admin.token.empty()) request.set(beast::http::field::authorization, "Bearer " + engine.admin.token);
    beast::http::write(socket, request);

    beast::flat_buffer buffer;
    beast::http::response_parser<beast::http::buffer_body> parser;
    parser.body_limit(boost::none);  // a stream: no end
    beast::http::read_header(socket, buffer, parser);
    if (parser.get().result_int() != 200) {
      // The error answer is short: read what comes of it (bounded) to say why.
      std::string body;
      char part[4096];
      while (!parser.is_done() && body.size() < 16 * 1024) {
        parser.get().body().data = part;
        parser.get().body().size = sizeof part;
        beast::error_code ec;
        beast::http::read_some(socket, buffer, parser, ec);
        body.append(part, sizeof part - parser.get().body().size);
        if (ec && ec != beast::http::error::need_buffer) break;
      }
      std::cerr << "error: GET /api/stream on " << host << ":" << port << ": HTTP " << parser.get().result_int()
                << (body.empty() ? "" : " ") << body << "\n";
      return 1;
    }
    Printer printer(options.pipeline);
    bool announced = false;
    std::string pending, event, data;
    char chunk[64 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      beast::error_code ec;
      beast::http::read_some(socket, buffer, parser, ec);
      if (ec && ec != beast::http::error::need_buffer) throw beast::system_error(ec);
      pending.append(chunk, sizeof chunk - parser.get().body().size);
      // Server-Sent Events: "event: NAME", "data: ..." lines, a blank line ends one.
      for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
        std::string text = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (text.rfind("event: ", 0) == 0) {
          event = text.substr(7);
        } else if (text.rfind("data: ", 0) == 0) {
          data += text.substr(6);
        } else if (text.empty()) {
          if (event == "events") {
            printer.frame(data);
            // Once what happened before is read: from here on, every event is printed.
            if (!announced) std::cerr << "tapping pipeline " << options.pipeline << " on " << host << ":" << port << "\n";
            announced = true;
          }
          event.clear();
          data.clear();
        }
      }
    }
    std::cerr << "the engine closed the stream\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: tap " << host << ":" << port << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace switchyard::cli
