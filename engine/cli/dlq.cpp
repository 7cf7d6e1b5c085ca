// `switchyard dlq list|show|replay|drop`: the dead-letter queue of the journal in state.dir,
// whether the engine is running or not; `dlq adopt`, with the engine stopped.

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <vector>

#include "cli/commands.hpp"
#include "config/engine_config.hpp"
#include "config/yaml_json.hpp"
#include "journal/codec.hpp"
#include "journal/dead_letters.hpp"
#include "journal/journal.hpp"
#include "journal/lock.hpp"
#include "switchyard/event.hpp"
#include "switchyard/units.hpp"

namespace switchyard::cli {
namespace {

std::string age(std::int64_t unix_ms) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto s = std::max<std::int64_t>(0, now - unix_ms / 1000);
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

// Opens the journal of the configured state.dir; prints the reason and returns nullopt on failure.
std::optional<journal::DeadLetters> open(const Common& common) {
  config::EngineConfig engine;
  config::Diagnostics diagnostics;
  if (!config::load_engine_config(common.config_file, common.config_explicit, engine, diagnostics)) {
    for (const auto& d : diagnostics) std::cerr << config::format(d) << "\n";
    return std::nullopt;
  }
  if (engine.state_dir.empty()) {
    std::cerr << "dlq: state.dir is empty in the configuration: there is no journal\n";
    return std::nullopt;
  }
  auto dlq = journal::DeadLetters::open(engine.state_dir);
  if (!dlq) {
    std::cerr << "dlq: " << dlq.error().message << "\n";
    return std::nullopt;
  }
  return std::move(*dlq);
}

// Which journal a command read, and which configuration named it: a `dlq list` that
// finds nothing in another directory than the running engine's says so.
std::string journal_file(const Common& common) {
  config::EngineConfig engine;
  config::Diagnostics diagnostics;
  if (!config::load_engine_config(common.config_file, common.config_explicit, engine, diagnostics)) {
    return common.config_file + " (which does not load)";  // open() has said why
  }
  std::error_code ec;
  auto path = std::filesystem::absolute(std::filesystem::path(engine.state_dir) / journal::kJournalFile, ec);
  return (ec ? std::filesystem::path(engine.state_dir) / journal::kJournalFile : path).lexically_normal().string() +
         " (state.dir of " + (engine.file.empty() ? common.config_file + ", absent: the defaults" : engine.file) + ")";
}

Result<journal::DeadLetterFilter> filter_of(const DlqOptions& o, bool need_selection) {
  journal::DeadLetterFilter f;
  f.pipeline = o.pipeline;
  f.sink = o.sink;
  for (const auto& id : o.ids) {
    try {
      std::size_t used = 0;
      f.ids.push_back(std::stoll(id, &used));
      if (used != id.size()) throw std::invalid_argument(id);
    } catch (const std::exception&) {
      return invalid_config("'" + id + "' is not an entry id (see `switchyard dlq list`)");
    }
  }
  if (!o.older_than.empty()) {
    auto d = parse_duration(o.older_than);
    if (!d) return invalid_config("--older-than: '" + o.older_than + "' is not a duration (e.g. 30m, 2h, 7d)");
    f.older_than = *d;
  }
  if (need_selection && f.ids.empty() && f.pipeline.empty() && f.sink.empty() && !f.older_than && !o.all) {
    return invalid_config("name entry ids, a filter (--pipeline, --sink, --older-than) or --all");
  }
  return f;
}

}  // namespace

int dlq_list(const Common& common, const DlqOptions& options) {
  auto filter = filter_of(options, false);
  if (!filter) return std::cerr << "dlq list: " << filter.error().message << "\n", 2;
  auto dlq = open(common);
  if (!dlq) return 1;
  auto entries = dlq->list(*filter);
  if (!entries) return std::cerr << "dlq list: " << entries.error().message << "\n", 1;
  // Standard error: standard output stays a table or JSON.
  std::cerr << "journal: " << journal_file(common) << "\n";
  if (options.json) {
    std::cout << journal::dead_letters_json(*entries) << "\n";
    return 0;
  }
  if (entries->empty()) {
    std::cout << "the dead-letter queue is empty" << (filter->pipeline.empty() && filter->sink.empty() ? "" : " (for this filter)") << "\n";
    return 0;
  }
  std::printf("%-6s %-20s %-16s %-38s %-28s %8s %6s  %s\n", "ID", "PIPELINE", "SINK", "EVENT", "TYPE",
              "ATTEMPTS", "AGE", "ERROR");
  for (const auto& d : *entries) {
    std::printf("%-6lld %-20s %-16s %-38s %-28s %8u %6s  %s%s\n", static_cast<long long>(d.id),
                d.pipeline.c_str(), d.sink.c_str(), d.event_id.c_str(), d.type.c_str(), d.attempts,
                age(d.failed_at_ms).c_str(), d.replay_requested ? "[replay pending] " : "", d.error.c_str());
  }
  return 0;
}

int dlq_show(const Common& common, const DlqOptions& options) {
  auto filter = filter_of(options, false);
  if (!filter) return std::cerr << "dlq show: " << filter.error().message << "\n", 2;
  if (filter->ids.size() != 1) return std::cerr << "dlq show: name one entry id\n", 2;
  auto dlq = open(common);
  if (!dlq) return 1;
  auto entry = dlq->get(filter->ids.front());
  if (!entry) return std::cerr << "dlq show: " << entry.error().message << "\n", 1;
  if (!*entry) return std::cerr << "dlq show: no entry " << filter->ids.front() << "\n", 1;
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
  w.SetIndent(' ', 2);
  journal::write_dead_letter_with_event(w, **entry);
  std::cout << buffer.GetString() << "\n";
  return 0;
}

namespace {

// The pipeline file in `dir` that defines `name` (its `name:`, else its file name), if any.
// Files are read as YAML only: an invalid pipeline still counts as defining its name.
std::optional<std::filesystem::path> defined_in(const std::string& dir, const std::string& name,
                                                const config::YamlLimits& limits) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".yml")) continue;
    std::string defined = entry.path().stem().string();
    // Read as the engine reads it (interpolated); unreadable YAML: the file name stands for
    // the pipeline, as the engine would name it.
    config::JsonFile file;
    config::Diagnostics ignored;
    if (config::load_yaml_file(entry.path().string(), file, ignored, limits) && file.json.IsObject()) {
      if (auto it = file.json.FindMember("name"); it != file.json.MemberEnd() && it->value.IsString()) {
        defined = it->value.GetString();
      }
    }
    if (defined == name) return entry.path();
  }
  return std::nullopt;
}


// The sink names a pipeline file gives (each sink's `name`, else its type), read as YAML.
std::vector<std::string> sink_names(const std::filesystem::path& file, const config::YamlLimits& limits) {
  std::vector<std::string> names;
  config::JsonFile yaml;
  config::Diagnostics ignored;
  if (!config::load_yaml_file(file.string(), yaml, ignored, limits) || !yaml.json.IsObject()) return names;
  auto sinks = yaml.json.FindMember("sinks");
  if (sinks == yaml.json.MemberEnd() || !sinks->value.IsArray()) return names;
  for (const auto& sink : sinks->value.GetArray()) {
    if (!sink.IsObject()) continue;
    for (const char* key : {"name", "type"}) {
      if (auto it = sink.FindMember(key); it != sink.MemberEnd() && it->value.IsString()) {
        names.emplace_back(it->value.GetString());
        break;
      }
    }
  }
  return names;
}

// Replays of a pipeline no file defines, or of a sink its file no longer has, wait until one
// does: said, with how to let them go, rather than "delivered within a second".
void tell_waiting_replays(const Common& common, const std::vector<journal::DeadLetter>& entries) {
  config::EngineConfig engine;
  config::Diagnostics diagnostics;
  if (!config::load_engine_config(common.config_file, common.config_explicit, engine, diagnostics)) return;
  const auto limits = config::pipeline_limits(engine);
  std::map<std::pair<std::string, std::string>, int> waiting;  // (pipeline, sink or "") → entries
  std::map<std::string, std::optional<std::filesystem::path>> files;
  for (const auto& e : entries) {
    auto [file, fresh] = files.try_emplace(e.pipeline);
    if (fresh) file->second = defined_in(engine.pipelines_dir, e.pipeline, limits);
    if (!file->second) {
      ++waiting[{e.pipeline, ""}];
    } else if (!e.sink.starts_with("transforms[")) {
      const auto names = sink_names(*file->second, limits);
      if (std::find(names.begin(), names.end(), e.sink) == names.end()) ++waiting[{e.pipeline, e.sink}];
    }
  }
  for (const auto& [where, n] : waiting) {
    const auto& [pipeline, sink] = where;
    if (sink.empty()) {
      std::cerr << "dlq replay: " << n << " event(s) of pipeline '" << pipeline << "' wait: no file in "
                << engine.pipelines_dir << " defines it; they go once one does (or `switchyard dlq drop --pipeline "
                << pipeline << "`)\n";
    } else {
      std::cerr << "dlq replay: " << n << " event(s) for sink '" << sink << "' of pipeline '" << pipeline
                << "' wait: the pipeline's file has no such sink; they go once it does (or `switchyard dlq drop "
                   "--pipeline "
                << pipeline << " --sink " << sink << "`)\n";
    }
  }
}

}  // namespace

int dlq_replay(const Common& common, const DlqOptions& options) {
  auto filter = filter_of(options, true);
  if (!filter) return std::cerr << "dlq replay: " << filter.error().message << "\n", 2;
  auto dlq = open(common);
  if (!dlq) return 1;
  auto selected = dlq->list(*filter);  // before: a running engine may take them at once
  auto n = dlq->replay(*filter);
  if (!n) return std::cerr << "dlq replay: " << n.error().message << "\n", 1;
  std::cout << *n << " event(s) queued for replay; a running engine delivers them within a second, "
               "a stopped one when it next starts\n";
  if (selected) tell_waiting_replays(common, *selected);
  return (*n == 0 && !filter->ids.empty()) ? 1 : 0;
}

int dlq_drop(const Common& common, const DlqOptions& options) {
  auto filter = filter_of(options, true);
  if (!filter) return std::cerr << "dlq drop: " << filter.error().message << "\n", 2;
  auto dlq = open(common);
  if (!dlq) return 1;
  auto n = dlq->drop(*filter);
  if (!n) return std::cerr << "dlq drop: " << n.error().message << "\n", 1;
  std::cout << *n << " event(s) dropped\n";
  return (*n == 0 && !filter->ids.empty()) ? 1 : 0;
}


int dlq_adopt(const Common& common, const DlqOptions& options) {
  config::EngineConfig engine;
  config::Diagnostics diagnostics;
  if (!config::load_engine_config(common.config_file, common.config_explicit, engine, diagnostics)) {
    for (const auto& d : diagnostics) std::cerr << config::format(d) << "\n";
    return 1;
  }
  if (engine.state_dir.empty()) {
    std::cerr << "dlq adopt: state.dir is empty in the configuration: there is no journal\n";
    return 1;
  }
  const std::string& name = options.pipeline;
  if (auto file = defined_in(engine.pipelines_dir, name, config::pipeline_limits(engine))) {
    std::cerr << "dlq adopt: " << file->string() << " defines pipeline '" << name
              << "': its events are delivered when it runs. Remove or rename that file first.\n";
    return 1;
  }
  auto dlq = journal::DeadLetters::open(engine.state_dir);  // first: says so when there is no journal
  if (!dlq) return std::cerr << "dlq adopt: " << dlq.error().message << "\n", 1;
  // Held until done: no engine starts on the journal meanwhile.
  auto lock = journal::StateDirLock::take(engine.state_dir);
  if (!lock) {
    std::cerr << "dlq adopt: " << lock.error().message;
    if (lock.error().message.find("in use by another engine") != std::string::npos) {
      std::cerr << ". Stop the engine first: it may still deliver the events of '" << name << "'";
    }
    std::cerr << "\n";
    return 1;
  }
  auto moved = dlq->adopt(name);
  if (!moved) return std::cerr << "dlq adopt: " << moved.error().message << "\n", 1;
  std::cout << *moved << " dead-letter entr" << (*moved == 1 ? "y" : "ies") << " made from the undelivered events of '"
            << name << "' (one per sink that still owed an event); see `switchyard dlq list --pipeline " << name
            << "`\n";
  return 0;
}

}  // namespace switchyard::cli
