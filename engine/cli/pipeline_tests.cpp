#include "cli/pipeline_tests.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <initializer_list>
#include <map>
#include <optional>

#include "cli/dry_pipeline.hpp"
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

// The first key of `map` that is not one of `known` (a misspelt `rendered:` would otherwise
// check nothing and pass).
std::optional<std::string> unknown_key(const rapidjson::Value& map, std::initializer_list<std::string_view> known) {
  for (const auto& m : map.GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (std::find(known.begin(), known.end(), key) == known.end()) return std::string(key);
  }
  return std::nullopt;
}

std::string compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

std::string quoted(const std::string& s) {
  rapidjson::Value v(rapidjson::StringRef(s.data(), s.size()));
  return compact(v);
}

std::string pretty(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(b);
  w.SetIndent(' ', 2);
  v.Accept(w);
  return b.GetString();
}

// `text` with `prefix` after each line break.
std::string indent(const std::string& text, const std::string& prefix) {
  std::string out;
  for (char ch : text) {
    out += ch;
    if (ch == '\n') out += prefix;
  }
  return out;
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
    if (auto key = unknown_key(root, {"pipeline", "variables", "stubs", "cases"})) {
      return broken(config::format(
          doc_.error(*key, "unknown key (a test file has pipeline, variables, stubs and cases)")));
    }
    if (!root.HasMember("pipeline") || !root["pipeline"].IsString()) {
      return broken(config::format(doc_.error("pipeline", "the pipeline file to test is required")));
    }
    const auto pipeline_file = file_.parent_path() / root["pipeline"].GetString();
    // Test-time values for the pipeline's ${VAR} and env.VAR: they win over the environment,
    // so a test runs the same in CI, without the real secrets, as on a laptop.
    config::YamlLimits limits = limits_;
    if (auto it = root.FindMember("variables"); it != root.MemberEnd()) {
      if (!it->value.IsObject()) return broken(config::format(doc_.error("variables", "expected a map of NAME: value")));
      for (const auto& m : it->value.GetObject()) {
        const std::string name = m.name.GetString();
        if (m.value.IsString()) {
          variables_[name] = m.value.GetString();
        } else if (m.value.IsNumber() || m.value.IsBool()) {
          variables_[name] = compact(m.value);
        } else {
          return broken(config::format(doc_.error("variables." + name, "expected a string")));
        }
      }
    }
    limits.interpolation.values = variables_;
    config::set_expression_env(limits_.interpolation.allow, variables_);
    struct RestoreEnv {
      const std::vector<std::string>& allow;
      ~RestoreEnv() { config::set_expression_env(allow); }
    } restore{limits_.interpolation.allow};
    if (!config::load_pipeline(pipeline_file, registry_, pipeline_, diagnostics, limits)) {
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
    renderers_.reset();  // its sinks stop on their strands, which need io_ running
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

  // Builds an event from an input entry; nullptr (with a failure) when malformed.
  std::unique_ptr<Event> make_input(const rapidjson::Value& in, const std::string& path,
                                    std::vector<std::string>& failures) {
    std::string key;
    auto event = event_from_input(in, file_.parent_path(), pipeline_.name, key);
    if (event) return std::move(*event);
    failures.push_back(where(key.empty() ? path : path + "." + key) + ": " + event.error().message);
    return nullptr;
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
    if (auto key = unknown_key(c, {"name", "input", "inputs", "stubs", "expect", "rendered"})) {
      failures.push_back(where(path + "." + *key) +
                         ": unknown key (a case has name, input or inputs, stubs, expect and rendered)");
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

    config::PipelineConfig pipeline = pipeline_;
    if (!stub_transforms(c, path, pipeline, failures)) return;
    auto received = run_through(pipeline, std::move(inputs), io_, server_);
    if (!received) {
      failures.push_back("the pipeline did not run: " + received.error().message);
      return;
    }
    if (received->transform_errors > 0) {
      failures.push_back(std::to_string(received->transform_errors) +
                         " event(s) failed in a transform; the last: " + received->last_error);
    }
    const bool has_expect = c.HasMember("expect");
    const bool has_rendered = c.HasMember("rendered");
    if (has_expect || !has_rendered) check_expectations(c, path, received->by_sink, failures);
    if (has_rendered) check_renderings(c["rendered"], path + ".rendered", received->by_sink, failures);
  }

  void check_expectations(const rapidjson::Value& c, const std::string& path,
                          std::map<std::string, std::vector<EventPtr>>& captured,
                          std::vector<std::string>& failures) {
    auto it = c.FindMember("expect");
    if (it == c.MemberEnd() || !it->value.IsObject()) {
      failures.push_back(where(path) + ": expect: a map of sink name to the events it must receive (or rendered:, "
                         "what they would send)");
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
      line += "\n        received payload:\n          " + indent(pretty(event.data), "          ");
      failures.push_back(line);
    }
  }

  // rendered: sink name → what it would send for each event it receives, in order (a map
  // for a sink that receives one event).
  void check_renderings(const rapidjson::Value& rendered, const std::string& path,
                        std::map<std::string, std::vector<EventPtr>>& captured, std::vector<std::string>& failures) {
    if (!rendered.IsObject()) {
      failures.push_back(where(path) + ": rendered: a map of sink name to what it would send");
      return;
    }
    if (!renderers_) renderers_ = std::make_unique<SinkRenderers>(pipeline_, io_, server_);
    for (const auto& m : rendered.GetObject()) {
      const std::string sink = m.name.GetString();
      const std::string rpath = path + "." + sink;
      const std::string type = renderers_->type(sink);
      if (type.empty()) {
        failures.push_back(where(rpath) + ": the pipeline has no sink named '" + sink + "'");
        continue;
      }
      const bool one = m.value.IsObject();
      if (!one && !m.value.IsArray()) {
        failures.push_back(where(rpath) + ": expected what the sink would send (method, url, headers, body, "
                           "body_contains, error), or a list of those, one per event it receives");
        continue;
      }
      const auto& got = captured[sink];
      const std::size_t expected = one ? 1 : m.value.Size();
      if (got.size() != expected) {
        failures.push_back("sink '" + sink + "': expected " + std::to_string(expected) +
                           " rendered request(s), but it receives " + std::to_string(got.size()) + " event(s)");
        continue;
      }
      for (std::size_t i = 0; i < expected; ++i) {
        const auto& want = one ? m.value : m.value[static_cast<rapidjson::SizeType>(i)];
        const std::string ipath = one ? rpath : rpath + "[" + std::to_string(i) + "]";
        check_rendering(want, ipath, sink, type, i, *got[i], failures);
      }
    }
  }

  void check_rendering(const rapidjson::Value& want, const std::string& path, const std::string& sink,
                       const std::string& type, std::size_t index, const Event& event,
                       std::vector<std::string>& failures) {
    if (!want.IsObject()) {
      failures.push_back(where(path) + ": expected a map (method, url, headers, body, body_contains, error)");
      return;
    }
    const std::string label = "sink '" + sink + "' rendered request " + std::to_string(index + 1);
    auto rendering = renderers_->render(sink, event);
    std::vector<std::string> differences;
    const auto wanted_error = want.FindMember("error");
    if (!rendering) {
      const std::string& message = rendering.error().message;
      if (wanted_error != want.MemberEnd() && wanted_error->value.IsString() &&
          message.find(wanted_error->value.GetString()) != std::string::npos) {
        return;
      }
      failures.push_back(shown(label + ": the sink would fail: " + message, sink, event));
      return;
    }
    if (!*rendering) {
      failures.push_back(where(path) + ": a " + type + " sink cannot say what it would send, so rendered: cannot "
                         "check it (expect: checks what it receives)");
      return;
    }
    const Rendering& r = **rendering;
    rapidjson::Document body;
    body.Parse(r.body.data(), r.body.size());
    const bool json_body = !r.body.empty() && !body.HasParseError();
    for (const auto& m : want.GetObject()) {
      const std::string key = m.name.GetString();
      if (key == "method" || key == "url") {
        const std::string& actual = key == "method" ? r.method : r.url;
        if (!m.value.IsString() || actual != m.value.GetString()) {
          differences.push_back(key + ": expected " + compact(m.value) + ", got " + quoted(actual));
        }
      } else if (key == "headers") {
        if (!m.value.IsObject()) {
          failures.push_back(where(path + ".headers") + ": expected a map of header name to value");
          continue;
        }
        for (const auto& h : m.value.GetObject()) {
          const auto actual = r.headers.get(h.name.GetString());
          const std::string name = std::string("headers.") + h.name.GetString();
          const std::string expected = h.value.IsString() ? h.value.GetString() : compact(h.value);
          if (!actual) {
            differences.push_back(name + ": missing (expected " + quoted(expected) + ")");
          } else if (*actual != expected) {
            differences.push_back(name + ": expected " + quoted(expected) + ", got " + quoted(std::string(*actual)));
          }
        }
      } else if (key == "body") {
        // JSON against JSON, members not named ignored (as payload_subset); text exactly.
        rapidjson::Document expected;
        if (m.value.IsString() && json_body) {
          expected.Parse(m.value.GetString(), m.value.GetStringLength());
          if (expected.HasParseError()) expected.SetNull();
        }
        if (json_body && (!m.value.IsString() || !expected.IsNull())) {
          diff(m.value.IsString() ? static_cast<const rapidjson::Value&>(expected) : m.value, body, "body", true,
               differences);
        } else if (!m.value.IsString() || r.body != m.value.GetString()) {
          differences.push_back("body: expected " + compact(m.value) + ", got " + quoted(r.body));
        }
      } else if (key == "body_contains") {
        std::vector<std::string> pieces;
        if (m.value.IsString()) pieces.emplace_back(m.value.GetString());
        if (m.value.IsArray()) {
          for (const auto& p : m.value.GetArray()) pieces.emplace_back(p.IsString() ? p.GetString() : compact(p));
        }
        if (pieces.empty()) {
          failures.push_back(where(path + ".body_contains") + ": expected a text, or a list of texts");
          continue;
        }
        for (const auto& piece : pieces) {
          if (r.body.find(piece) == std::string::npos) differences.push_back("body: does not contain " + quoted(piece));
        }
      } else if (key == "error") {
        differences.push_back("error: expected the sink to fail with " + compact(m.value) + ", but it renders");
      } else {
        failures.push_back(where(path + "." + key) +
                           ": unknown check (use method, url, headers, body, body_contains, error)");
      }
    }
    if (differences.empty()) return;
    std::string line = label + " differs:";
    for (const auto& d : differences) line += "\n        " + d;
    line += "\n        rendered: " + r.method + " " + r.url;
    for (const auto& h : r.headers) line += "\n          " + h.name + ": " + h.value;
    line += "\n          " + indent(json_body ? pretty(body) : r.body, "          ");
    failures.push_back(shown(line, sink, event));
  }

  // `text` with the values of the sink's secret options redacted, but for those the test
  // file gave itself (variables:): a failing CI run must not print a real webhook URL.
  std::string shown(const std::string& text, const std::string& sink, const Event& event) {
    std::vector<std::string> secrets = renderers_->secrets(sink, event);
    std::erase_if(secrets, [&](const std::string& secret) {
      return std::any_of(variables_.begin(), variables_.end(), [&](const auto& v) {
        return v.second.size() >= 8 && secret.find(v.second) != std::string::npos;
      });
    });
    Rendering r{.body = text};
    redact(r, std::move(secrets));
    return r.body;
  }

  std::filesystem::path file_;
  const loader::PluginRegistry& registry_;
  const config::YamlLimits& limits_;
  std::ostream& out_;
  config::JsonFile doc_;
  config::PipelineConfig pipeline_;
  runtime::Io io_{1};
  http::Server server_{io_, config::listener_settings("http", "127.0.0.1:0")};
  config::Variables variables_;
  std::unique_ptr<SinkRenderers> renderers_;  // the real sinks, for rendered:
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
