#include "cli/pipeline_tests.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"
#include "config/templates.hpp"
#include "config/yaml_json.hpp"
#include "loader/registry.hpp"
#include "http/server.hpp"
#include "runtime/component_context.hpp"
#include "runtime/dry_run.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/io.hpp"
#include "runtime/state_store.hpp"

namespace switchyard::cli {
namespace {

std::string compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

// Lines "path: expected X, got Y" for every difference; `subset` ignores extra members.
void diff(const rapidjson::Value& expected, const rapidjson::Value& actual, const std::string& path,
          bool subset, std::vector<std::string>& out) {
  if (expected.IsObject() && actual.IsObject()) {
    for (const auto& m : expected.GetObject()) {
      const std::string p = path + "." + m.name.GetString();
      auto it = actual.FindMember(m.name);
      if (it == actual.MemberEnd()) {
        out.push_back(p + ": missing (expected " + compact(m.value) + ")");
      } else {
        diff(m.value, it->value, p, subset, out);
      }
    }
    if (!subset) {
      for (const auto& m : actual.GetObject()) {
        if (!expected.HasMember(m.name)) {
          out.push_back(path + "." + m.name.GetString() + ": unexpected (got " + compact(m.value) + ")");
        }
      }
    }
    return;
  }
  if (expected.IsArray() && actual.IsArray() && expected.Size() == actual.Size()) {
    for (rapidjson::SizeType i = 0; i < expected.Size(); ++i) {
      diff(expected[i], actual[i], path + "[" + std::to_string(i) + "]", subset, out);
    }
    return;
  }
  if (!(expected == actual)) {
    out.push_back(path + ": expected " + compact(expected) + ", got " + compact(actual));
  }
}

Result<std::string> read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return invalid_config("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One test file being run.
class TestFile {
 public:
  TestFile(std::filesystem::path file, const loader::PluginRegistry& registry, const config::YamlLimits& limits,
           std::ostream& out)
      : file_(std::move(file)), registry_(registry), limits_(limits), out_(out) {}

  TestTotals run() {
    config::Diagnostics diagnostics;
    // A test file is the operator's own, not engine input: a larger cap, for inline payloads.
    const config::YamlLimits test_file{.max_file_bytes = 64 << 20, .max_expanded_bytes = 256 << 20};
    if (!config::load_yaml_file(file_.string(), doc_, diagnostics, test_file) || !doc_.json.IsObject()) {
      return broken(diagnostics.empty() ? file_.string() + ": expected a map with pipeline and cases"
                                        : config::format(diagnostics.front()));
    }
    const auto& root = doc_.json;
    if (!root.HasMember("pipeline") || !root["pipeline"].IsString()) {
      return broken(config::format(doc_.error("pipeline", "the pipeline file to test is required")));
    }
    const auto pipeline_file = file_.parent_path() / root["pipeline"].GetString();
    if (!config::load_pipeline(pipeline_file, registry_, pipeline_, diagnostics, limits_)) {
      std::string all;
      for (const auto& d : diagnostics) all += (all.empty() ? "" : "\n      ") + config::format(d);
      return broken(all);
    }
    if (!root.HasMember("cases") || !root["cases"].IsArray() || root["cases"].Empty()) {
      return broken(config::format(doc_.error("cases", "expected a list of cases")));
    }
    io_.start();
    TestTotals totals;
    for (rapidjson::SizeType i = 0; i < root["cases"].Size(); ++i) {
      const std::string path = "cases[" + std::to_string(i) + "]";
      const auto& c = root["cases"][i];
      const std::string name = c.IsObject() && c.HasMember("name") && c["name"].IsString()
                                   ? c["name"].GetString()
                                   : path;
      std::vector<std::string> failures;
      run_case(c, path, failures);
      if (failures.empty()) {
        ++totals.passed;
        out_ << "PASS  " << file_.string() << ": " << name << "\n";
      } else {
        ++totals.failed;
        out_ << "FAIL  " << file_.string() << ": " << name << "\n";
        for (const auto& f : failures) out_ << "      " << f << "\n";
      }
    }
    io_.stop();
    return totals;
  }

 private:
  TestTotals broken(const std::string& why) {
    out_ << "FAIL  " << file_.string() << ": cannot run\n      " << why << "\n";
    return TestTotals{0, 1};
  }

  std::string where(const std::string& path) const {
    const auto m = doc_.marks.find(path);
    return file_.string() + ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": " + path;
  }

  // Builds an event from an input entry; false (with a failure) when malformed.
  std::unique_ptr<Event> make_input(const rapidjson::Value& in, const std::string& path,
                                    std::vector<std::string>& failures) {
    if (!in.IsObject()) {
      failures.push_back(where(path) + ": expected a map (type, payload, meta...)");
      return nullptr;
    }
    auto event = std::make_unique<Event>();
    auto str = [&](const char* key, std::string& target, const char* fallback) {
      auto it = in.FindMember(key);
      target = it != in.MemberEnd() && it->value.IsString() ? it->value.GetString() : fallback;
    };
    str("id", event->id, "");
    if (event->id.empty()) event->id = make_event_id();
    str("type", event->type, "test.input");
    str("source", event->source, "switchyard://test");
    str("subject", event->subject, "");
    event->time = std::chrono::system_clock::now();
    event->pipeline = pipeline_.name;
    if (auto it = in.FindMember("payload"); it != in.MemberEnd()) {
      event->data.CopyFrom(it->value, event->allocator());
    } else if (auto f = in.FindMember("payload_file"); f != in.MemberEnd() && f->value.IsString()) {
      const auto text = read_text(file_.parent_path() / f->value.GetString());
      if (!text) {
        failures.push_back(where(path + ".payload_file") + ": " + text.error().message);
        return nullptr;
      }
      event->data.Parse(text->c_str());
      if (event->data.HasParseError()) {
        failures.push_back(where(path + ".payload_file") + ": not valid JSON");
        return nullptr;
      }
    } else {
      event->data.SetObject();
    }
    if (auto it = in.FindMember("meta"); it != in.MemberEnd() && it->value.IsObject()) {
      event->meta.CopyFrom(it->value, event->allocator());
    }
    return event;
  }

  // `stubs: {<transform name>: {meta: {...}, payload: {...}, drop: true}}` (the file's, then
  // the case's, which win): those transforms are replaced by a stub that sets what it says,
  // for a transform that needs what a test has not (postgres.query's database).
  bool stub_transforms(const rapidjson::Value& c, const std::string& path, config::PipelineConfig& config,
                       std::vector<std::string>& failures) {
    auto apply = [&](const rapidjson::Value& holder, const std::string& at) {
      auto stubs = holder.FindMember("stubs");
      if (stubs == holder.MemberEnd()) return;
      if (!stubs->value.IsObject()) {
        failures.push_back(where(at + "stubs") + ": expected a map of transform names to stubs");
        return;
      }
      for (const auto& s : stubs->value.GetObject()) {
        const std::string name = s.name.GetString();
        const std::string stub_path = at + "stubs." + name;
        auto it = std::find_if(config.transforms.begin(), config.transforms.end(),
                               [&](const config::ComponentConfig& t) { return t.name == name; });
        if (it == config.transforms.end()) {
          std::string names;
          for (const auto& t : config.transforms) names += (names.empty() ? "" : ", ") + t.name;
          failures.push_back(where(stub_path) + ": the pipeline has no transform named '" + name + "' (it has: " +
                             (names.empty() ? "none" : names) + ")");
          continue;
        }
        auto stub = runtime::dry_run_stub(name, s.value);
        if (!stub) {
          failures.push_back(where(stub_path) + ": " + stub.error().message);
          continue;
        }
        *it = std::move(*stub);
      }
    };
    apply(doc_.json, "");
    apply(c, path + ".");
    return failures.empty();
  }

  // Runs the case through the real pipeline (what `run` runs): its transforms and its
  // sinks' if:, with the source swapped for the case's inputs and every sink for a capture.
  void run_case(const rapidjson::Value& c, const std::string& path, std::vector<std::string>& failures) {
    if (!c.IsObject()) {
      failures.push_back(where(path) + ": expected a map with input(s) and expect");
      return;
    }
    std::vector<std::unique_ptr<Event>> inputs;
    if (auto it = c.FindMember("input"); it != c.MemberEnd()) {
      if (auto e = make_input(it->value, path + ".input", failures)) inputs.push_back(std::move(e));
    }
    if (auto it = c.FindMember("inputs"); it != c.MemberEnd() && it->value.IsArray()) {
      for (rapidjson::SizeType i = 0; i < it->value.Size(); ++i) {
        if (auto e = make_input(it->value[i], path + ".inputs[" + std::to_string(i) + "]", failures)) {
          inputs.push_back(std::move(e));
        }
      }
    }
    if (inputs.empty() && failures.empty()) failures.push_back(where(path) + ": no input or inputs");
    if (!failures.empty()) return;

    auto board = std::make_shared<runtime::DryRunBoard>(std::move(inputs));
    auto config = std::make_shared<config::PipelineConfig>(pipeline_);
    config->durability = config::Durability::memory;
    if (!stub_transforms(c, path, *config, failures)) return;
    config->sources = {runtime::dry_run_input(board)};
    for (auto& sink : config->sinks) {
      config::SinkConfig capture = runtime::dry_run_capture(board, sink.name);
      capture.condition = sink.condition;
      capture.queue_size = sink.queue_size;
      sink = std::move(capture);
    }
    // Fresh state for every case: dedup and rate limits never leak between cases.
    runtime::StateTable store;
    runtime::Services services{io_, store, server_};
    auto stats = runtime::dry_run(config, services, std::chrono::milliseconds(0), std::chrono::seconds(30));
    if (!stats) {
      failures.push_back("the pipeline did not run: " + stats.error().message);
      return;
    }
    if (stats->transform_errors > 0) {
      failures.push_back(std::to_string(stats->transform_errors) + " event(s) failed in a transform; the last: " +
                         stats->last_error.substr(stats->last_error.find(' ') + 1));
    }
    std::map<std::string, std::vector<EventPtr>> captured;
    for (const auto& sink : pipeline_.sinks) captured[sink.name] = board->captured(sink.name);
    check_expectations(c, path, captured, failures);
  }

  void check_expectations(const rapidjson::Value& c, const std::string& path,
                          std::map<std::string, std::vector<EventPtr>>& captured,
                          std::vector<std::string>& failures) {
    auto it = c.FindMember("expect");
    if (it == c.MemberEnd() || !it->value.IsObject()) {
      failures.push_back(where(path) + ": expect: a map of sink name to the events it must receive");
      return;
    }
    for (const auto& m : it->value.GetObject()) {
      const std::string sink = m.name.GetString();
      const std::string epath = path + ".expect." + sink;
      const bool known = std::any_of(pipeline_.sinks.begin(), pipeline_.sinks.end(),
                                     [&](const auto& s) { return s.name == sink; });
      if (!known) {
        failures.push_back(where(epath) + ": the pipeline has no sink named '" + sink + "'");
        continue;
      }
      if (!m.value.IsArray()) {
        failures.push_back(where(epath) + ": expected a list of events ([] for none)");
        continue;
      }
      const auto& got = captured[sink];
      if (got.size() != m.value.Size()) {
        std::string line = "sink '" + sink + "': expected " + std::to_string(m.value.Size()) +
                           " event(s), got " + std::to_string(got.size());
        for (const auto& e : got) line += "\n        got: " + e->type + " " + compact(e->data);
        failures.push_back(line);
        continue;
      }
      for (rapidjson::SizeType i = 0; i < m.value.Size(); ++i) {
        check_event(m.value[i], epath + "[" + std::to_string(i) + "]", sink, i, *got[i], failures);
      }
    }
  }

  void check_event(const rapidjson::Value& expected, const std::string& path, const std::string& sink,
                   std::size_t index, const Event& event, std::vector<std::string>& failures) {
    const std::string label = "sink '" + sink + "' event " + std::to_string(index + 1);
    if (!expected.IsObject()) {
      failures.push_back(where(path) + ": expected a map (payload, payload_subset, type, subject, that)");
      return;
    }
    std::vector<std::string> differences;
    for (const auto& m : expected.GetObject()) {
      const std::string key = m.name.GetString();
      if (key == "payload") {
        diff(m.value, event.data, "payload", false, differences);
      } else if (key == "payload_subset") {
        diff(m.value, event.data, "payload", true, differences);
      } else if (key == "type" || key == "subject" || key == "source") {
        const std::string& actual = key == "type" ? event.type : key == "subject" ? event.subject : event.source;
        if (!m.value.IsString() || actual != m.value.GetString()) {
          differences.push_back(key + ": expected " + compact(m.value) + ", got \"" + actual + "\"");
        }
      } else if (key == "that") {
        if (!m.value.IsArray()) {
          failures.push_back(where(path + ".that") + ": expected a list of ${{ }} conditions");
          continue;
        }
        for (rapidjson::SizeType i = 0; i < m.value.Size(); ++i) {
          config::TemplateError error;
          auto condition = config::compile_condition_template(m.value[i], error);
          const std::string cpath = path + ".that[" + std::to_string(i) + "]";
          if (!condition) {
            const auto mark = doc_.marks.find_in_value(cpath, error.offset);
            failures.push_back(file_.string() + ":" + std::to_string(mark.line) + ":" +
                               std::to_string(mark.column) + ": " + cpath + ": " + error.message);
          } else if (!condition->test(event)) {
            differences.push_back("that: " + compact(m.value[i]) + " is false");
          }
        }
      } else {
        failures.push_back(where(path + "." + key) + ": unknown check (use payload, payload_subset, type, subject, source, that)");
      }
    }
    if (!differences.empty()) {
      std::string line = label + " differs:";
      for (const auto& d : differences) line += "\n        " + d;
      rapidjson::StringBuffer b;
      rapidjson::PrettyWriter<rapidjson::StringBuffer> w(b);
      w.SetIndent(' ', 2);
      event.data.Accept(w);
      std::string pretty = b.GetString();
      std::string indented;
      for (char ch : pretty) {
        indented += ch;
        if (ch == '\n') indented += "          ";
      }
      line += "\n        received payload:\n          " + indented;
      failures.push_back(line);
    }
  }

  std::filesystem::path file_;
  const loader::PluginRegistry& registry_;
  const config::YamlLimits& limits_;
  std::ostream& out_;
  config::JsonFile doc_;
  config::PipelineConfig pipeline_;
  runtime::Io io_{1};
  http::Server server_{io_, config::listener_settings("http", "127.0.0.1:0")};
};

}  // namespace

TestTotals run_pipeline_tests(const std::vector<std::filesystem::path>& files,
                              const loader::PluginRegistry& registry, const config::YamlLimits& limits,
                              std::ostream& out) {
  TestTotals totals;
  for (const auto& file : files) {
    const TestTotals t = TestFile(file, registry, limits, out).run();
    totals.passed += t.passed;
    totals.failed += t.failed;
  }
  return totals;
}

}  // namespace switchyard::cli
