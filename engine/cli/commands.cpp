#include "cli/commands.hpp"

#include <dlfcn.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"
#include "config/templates.hpp"
#include "loader/registry.hpp"
#include "log/logging.hpp"
#include "runtime/engine.hpp"
#include "cli/describe.hpp"
#include "cli/pipeline_tests.hpp"
#include "cli/setup.hpp"

namespace switchyard::cli {
namespace {

// The pipeline files `diagnostics` found invalid, each with every error of its own (one per
// line) and the name it gives. A diagnostic about no file of the directory (the directory
// itself missing) gives none: then nothing starts.
std::vector<runtime::PipelineFile> invalid_files(const config::Diagnostics& diagnostics, const std::string& dir) {
  std::vector<runtime::PipelineFile> out;
  for (const auto& d : diagnostics) {
    std::error_code ec;
    if (d.file.empty() || d.file == dir || !std::filesystem::is_regular_file(d.file, ec)) return {};
    auto it = std::find_if(out.begin(), out.end(), [&](const runtime::PipelineFile& f) { return f.file == d.file; });
    if (it == out.end()) {
      out.push_back(runtime::PipelineFile{.file = d.file, .name = config::pipeline_name_hint(d.file)});
      it = std::prev(out.end());
    }
    it->error += (it->error.empty() ? "" : "\n") + config::format(d);
  }
  return out;
}

}  // namespace

bool prepare(const Common& common, Setup& setup, const std::string& log_level) {
  log::setup(log_level, "text");
  if (!config::load_engine_config(common.config_file, common.config_explicit, setup.engine,
                                  setup.diagnostics)) {
    return false;
  }
  if (log_level == "info") log::setup(setup.engine.log_level, setup.engine.log_format);
  config::set_expression_env(setup.engine.env_allow);
  std::vector<std::filesystem::path> dirs;
  for (const auto& p : setup.engine.plugin_paths) dirs.emplace_back(p);
  if (dirs.empty()) dirs = loader::default_plugin_paths();
  setup.registry.load_directories(dirs, setup.plugin_errors);
  return true;
}

void print_diagnostics(const config::Diagnostics& diagnostics) {
  for (const auto& d : diagnostics) std::cerr << config::format(d) << "\n";
}

std::optional<http::Endpoint> admin_endpoint(const config::EngineConfig& engine) {
  if (engine.admin.listen.empty()) return std::nullopt;
  auto endpoint = http::parse_endpoint(engine.admin.listen);
  if (!endpoint || endpoint->port == 0) return std::nullopt;
  if (endpoint->host.empty() || endpoint->host == "0.0.0.0") endpoint->host = "127.0.0.1";
  if (endpoint->host == "::") endpoint->host = "::1";
  return *endpoint;
}

namespace {

// Every request allocates and frees tens of KiB (the body, the event's pool chunks, the
// parser's stacks). With glibc's default trim threshold (128 KiB) the I/O threads' heaps
// shrank and grew again around that on almost every request (a madvise or mprotect system
// call and fresh page faults each time: ~12 % of CPU under webhook load). Keeping up to
// 16 MiB of freed memory per arena avoids that at a bounded cost (glibc may make several
// arenas per core). Builds linked with jemalloc (the default when it is installed; found by
// its mallctl entry point, LD_PRELOAD included) do not use glibc's malloc: nothing to do.
void tune_allocator() {
  if (::dlsym(RTLD_DEFAULT, "mallctl") != nullptr) return;
  ::mallopt(M_TRIM_THRESHOLD, 16 << 20);
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);  // fixed: bodies of several MiB still come from mmap
}

}  // namespace

// Every connection is a descriptor: lift the soft limit (often 1024) to the hard one, and
// keep the shared listener's connections below it by a reserve, so that the admin listener
// (/healthz), the journal and outbound clients still get descriptors when clients hold as
// many connections as they may.
static void fit_connections_to_open_file_limit(std::uint64_t& max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur != limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur == RLIM_INFINITY) return;
  const auto files = static_cast<std::uint64_t>(limit.rlim_cur);
  const std::uint64_t reserve = std::clamp<std::uint64_t>(files / 4, 64, 256);
  const std::uint64_t fits = files > reserve ? files - reserve : 0;
  if (max_connections > fits) {
    log::engine().warn("http.max_connections {} lowered to {}: the open-file limit is {} and {} descriptors are "
                       "kept for the admin listener, the journal and outbound connections (raise it: ulimit -n, "
                       "or LimitNOFILE= in a systemd unit)",
                       max_connections, fits, files, reserve);
    max_connections = fits;
  }
}

int run(const Common& common, bool strict) {
  tune_allocator();
  Setup setup;
  auto& log = log::engine();
  if (!prepare(common, setup)) {
    print_diagnostics(setup.diagnostics);
    return 1;
  }
  for (const auto& e : setup.plugin_errors) log.error("plugin refused: {}", e);
  const config::YamlLimits limits = config::pipeline_limits(setup.engine);
  auto pipelines = config::load_pipelines(setup.engine.pipelines_dir, {}, setup.registry,
                                          setup.diagnostics, limits);
  // One rule for a bad file, at start as on reload: it is reported and listed as failed, and
  // the valid files start. Nothing starts with --strict, or when no file is valid (an empty
  // directory is not that: pipelines added later start by hot reload).
  std::vector<runtime::PipelineFile> invalid = invalid_files(setup.diagnostics, setup.engine.pipelines_dir);
  if (!setup.diagnostics.empty() && (strict || pipelines.empty() || invalid.empty())) {
    const std::string verdict = std::to_string(setup.diagnostics.size()) + " configuration error(s); nothing started" +
                                (strict ? " (--strict)" : pipelines.empty() ? ": no pipeline file is valid" : "");
    if (setup.engine.log_format == "json") {
      // One record a log collector can parse, with every error in it.
      std::string all;
      for (const auto& d : setup.diagnostics) all += config::format(d) + "\n";
      log.error("{}{}", all, verdict);
    } else {
      print_diagnostics(setup.diagnostics);
      std::cerr << verdict << "\n";
    }
    return 1;
  }
  if (pipelines.empty()) log.warn("no pipelines in {}", setup.engine.pipelines_dir);
  log.info("switchyard starting: {} plugin librar{}, {} pipeline(s), config {}",
           setup.registry.plugins().size(), setup.registry.plugins().size() == 1 ? "y" : "ies",
           pipelines.size(), setup.engine.file.empty() ? "<defaults>" : setup.engine.file);
  fit_connections_to_open_file_limit(setup.engine.http.max_connections);
  runtime::Engine engine(setup.engine);
  if (Status s = engine.open_journal(); !s) {
    log.error("cannot open the journal: {}", s.error().message);
    return 1;
  }
  // Hot reload re-reads every file; the registry and engine config stay as they were.
  // Enabled before the admin API opens, so a reload asked for at once is not refused; it
  // runs once start() has.
  const std::filesystem::path dir = setup.engine.pipelines_dir;
  auto load = [&setup, dir, limits] {
    std::vector<runtime::PipelineFile> files;
    for (const auto& path : config::pipeline_files(dir)) {
      runtime::PipelineFile f;
      f.file = path.string();
      f.name = config::pipeline_name_hint(path);
      // What changed is judged on at most the size cap (+1: a file that grew past it differs).
      std::ifstream in(path, std::ios::binary);
      char chunk[16 * 1024];
      const std::uint64_t cap = limits.max_file_bytes + 1;
      while (in && f.content.size() < cap) {
        in.read(chunk, static_cast<std::streamsize>(std::min<std::uint64_t>(sizeof chunk, cap - f.content.size())));
        f.content.append(chunk, static_cast<std::size_t>(in.gcount()));
      }
      config::Diagnostics diagnostics;
      config::PipelineConfig pipeline;
      if (config::load_pipeline(path, setup.registry, pipeline, diagnostics, limits)) {
        f.config = std::move(pipeline);
      } else {
        for (const auto& d : diagnostics) f.error += (f.error.empty() ? "" : "\n") + config::format(d);
      }
      files.push_back(std::move(f));
    }
    return files;
  };
  if (Status s = engine.enable_reload(load, setup.engine.watch); !s) {
    log.warn("pipelines.watch: {}; reload with SIGHUP or POST /api/reload", s.error().message);
  }
  if (Status s = engine.open_admin(); !s) {
    log.error("cannot open the admin listener: {}", s.error().message);
    return 1;
  }
  engine.start(std::move(pipelines), invalid);
  return engine.run();
}

int test(const Common& common, const std::vector<std::string>& args) {
  Setup setup;
  if (!prepare(common, setup)) {
    print_diagnostics(setup.diagnostics);
    return 1;
  }
  log::setup("warn", setup.engine.log_format);
  for (const auto& e : setup.plugin_errors) std::cerr << "plugin refused: " << e << "\n";
  std::vector<std::filesystem::path> files;
  std::vector<std::string> inputs = args;
  if (inputs.empty()) inputs.push_back((std::filesystem::path(setup.engine.pipelines_dir) / "tests").string());
  for (const auto& a : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(a, ec)) {
      for (const auto& f : config::pipeline_files(a)) files.push_back(f);
    } else {
      files.emplace_back(a);
    }
  }
  if (files.empty()) {
    std::cerr << "no test files found in " << inputs.front() << "\n";
    return 1;
  }
  const TestTotals totals = run_pipeline_tests(files, setup.registry, config::pipeline_limits(setup.engine), std::cout);
  std::cout << totals.passed << " passed, " << totals.failed << " failed\n";
  return totals.failed == 0 ? 0 : 1;
}

int plugins_list(const Common& common, bool json) {
  Setup setup;
  if (!prepare(common, setup)) {
    print_diagnostics(setup.diagnostics);
    return 1;
  }
  for (const auto& e : setup.plugin_errors) std::cerr << "plugin refused: " << e << "\n";
  if (json) {
    print_component_list_json(setup.registry, std::cout);
  } else {
    print_component_list(setup.registry, std::cout);
  }
  return 0;
}

int plugins_describe(const Common& common, const std::string& type) {
  Setup setup;
  if (!prepare(common, setup)) {
    print_diagnostics(setup.diagnostics);
    return 1;
  }
  bool found = false;
  for (const auto* component : setup.registry.components()) {
    if (type != component->decl->type) continue;
    if (found) std::cout << "\n";
    describe_component(*component, std::cout);
    found = true;
  }
  if (!found) {
    const auto near = near_component_types(setup.registry, type);
    std::cerr << "unknown component type '" << type << "'";
    if (near.size() == 1) {
      std::cerr << " (did you mean '" << near.front() << "'?)";
    } else if (!near.empty()) {
      std::cerr << " (did you mean one of:";
      for (std::size_t i = 0; i < near.size(); ++i) std::cerr << (i == 0 ? " '" : ", '") << near[i] << "'";
      std::cerr << "?)";
    }
    std::cerr << " (see `switchyard plugins list`)\n";
    return 1;
  }
  return 0;
}

int plugins_docs(const Common& common) {
  Setup setup;
  if (!prepare(common, setup)) {
    print_diagnostics(setup.diagnostics);
    return 1;
  }
  print_reference_markdown(setup.registry, std::cout);
  return 0;
}

}  // namespace switchyard::cli
