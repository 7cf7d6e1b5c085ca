// switchyard: the one binary. See docs/operations.md for every command.

#include <CLI/CLI.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"

#ifndef SWITCHYARD_VERSION
#define SWITCHYARD_VERSION "0.0.0"
#endif

namespace {

// Without -c: $SWITCHYARD_CONFIG when set (and not empty), else config/switchyard.yaml in the working directory (a source checkout), else the
// configuration of an installed tree, <prefix>/etc/switchyard/switchyard.yaml beside
// <prefix>/bin/switchyard (/etc/switchyard/switchyard.yaml for the prefix /usr), so `switchyard dlq list` in a container or on a host finds the
// running engine's state. Neither present: config/switchyard.yaml, i.e. every default.
//
// A configuration names plugin libraries to load: one found in the working directory is read
// only when it, its directory and the working directory belong to this user (or root) and
// no one else may write them. Else `switchyard validate` run by root in a directory another
// user controls would run that user's code. Group-writable is fine when the group is the
// caller's own primary group (a umask of 002 with a group per user, Debian's default).
std::optional<std::string> untrusted(const std::filesystem::path& local) {
  for (const auto& path : {local, local.parent_path(), std::filesystem::path(".")}) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return path.string() + ": " + std::strerror(errno);
    if (S_ISLNK(st.st_mode)) return path.string() + " is a symbolic link";
    if (st.st_uid != ::geteuid() && st.st_uid != 0) return path.string() + " belongs to another user";
    const bool group_of_others = (st.st_mode & S_IWGRP) != 0 && st.st_gid != ::getegid();
    if ((st.st_mode & S_IWOTH) != 0 || group_of_others) return path.string() + " can be written by other users";
  }
  return std::nullopt;
}

std::string default_config_file() {
  const std::filesystem::path local = "config/switchyard.yaml";
  std::error_code ec;
  if (std::filesystem::exists(local, ec)) {
    const auto why = untrusted(local);
    if (!why) return local.string();
    std::cerr << "switchyard: not reading " << local.string() << " in the working directory (" << *why
              << "); pass it with -c to read it anyway\n";
  }
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto prefix = exe.parent_path().parent_path();
    // Installed with the prefix /usr (a distribution's package), the configuration is in /etc.
    const auto installed = prefix == "/usr" ? std::filesystem::path("/etc/switchyard/switchyard.yaml")
                                            : prefix / "etc" / "switchyard" / "switchyard.yaml";
    if (std::filesystem::is_regular_file(installed, ec)) return installed.string();
  }
  return std::filesystem::exists(local, ec) ? std::string() : local.string();  // "": every default
}

}  // namespace

int main(int argc, char** argv) {
  using namespace switchyard;
  // A write to a pipe or socket whose reader has gone (`switchyard run | head`, a TLS
  // connection a peer reset under a library that writes without MSG_NOSIGNAL) is an error
  // the writer handles (EPIPE), not the end of the process and of what it holds in memory.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"Switchyard: plugin-based event pipelines (GitHub to chat, e-mail, dashboards, PostgreSQL)"};
  app.set_version_flag("--version", std::string("switchyard ") + SWITCHYARD_VERSION);
  app.require_subcommand(1);

  cli::Common common;
  auto add_config = [&](CLI::App* sub) {
    sub->add_option("-c,--config", common.config_file,
                    "Engine configuration file (default: $SWITCHYARD_CONFIG when set, else "
                    "config/switchyard.yaml when present, else etc/switchyard/switchyard.yaml of the "
                    "installed tree)");
  };

  auto* run = app.add_subcommand("run", "Run the engine");
  add_config(run);
  bool strict = false;
  run->add_flag("--strict", strict,
                "Start nothing when any pipeline file is invalid (default: report it, mark it failed in "
                "/api/pipelines, start the valid ones)");

  std::vector<std::string> files;
  auto* validate = app.add_subcommand("validate", "Check the configuration and pipelines; exit 1 on errors");
  add_config(validate);
  validate->add_option("pipelines", files, "Pipeline files (default: every file in pipelines.dir)");
  std::string validate_format = "text";
  validate->add_option("--format", validate_format,
                       "text: problems on standard error; json: a report on standard output, per file its "
                       "errors and warnings with line and column (docs/operations.md)")
      ->check(CLI::IsMember({"text", "json"}));

  std::vector<std::string> test_files;
  auto* test = app.add_subcommand("test", "Run pipeline unit tests (default: pipelines/tests/)");
  add_config(test);
  test->add_option("files", test_files, "Test files or directories");

  auto* plugins = app.add_subcommand("plugins", "Inspect component types");
  plugins->require_subcommand(1);
  auto* list = plugins->add_subcommand("list", "List every component type");
  add_config(list);
  bool list_json = false;
  list->add_flag("--json", list_json, "Print a JSON array: type, kind, plugin, version, summary");
  std::string type;
  auto* describe = plugins->add_subcommand("describe", "Show a component type's options");
  describe->add_option("type", type, "Component type, e.g. generate")->required();
  add_config(describe);
  auto* docs = plugins->add_subcommand("docs", "Print the pipeline reference (Markdown)");
  add_config(docs);
  std::string library;
  auto* check = plugins->add_subcommand("check", "Load one plugin library alone and run its components' lifecycle");
  check->add_option("file", library, "Plugin library (.so)")->required();

  cli::SendOptions send_options;
  auto* send = app.add_subcommand(
      "send", "Sign a sample request as a service does and POST it to its source: send github EVENT FILE, "
              "send slack FILE (the services the loaded plugins sign for)");
  add_config(send);
  send->add_option("args", send_options.args, "SERVICE [ARGUMENT] FILE ('-' for stdin)")->required()->expected(2, 3);
  send->add_option("--secret", send_options.secret, "The shared secret (default: the service's usual variable, "
                                                    "e.g. $GITHUB_WEBHOOK_SECRET)");
  send->add_option("--url", send_options.url, "Where to post (default: the source's default route on http.listen)");
  send->add_option("-H,--header", send_options.headers, "An extra header, 'Name: value' (e.g. X-GitHub-Delivery: d1)");
  send->add_option("--ca-file", send_options.ca_file, "PEM CA bundle for https URLs");
  send->add_flag("--insecure", send_options.insecure, "Skip certificate verification");

  cli::DlqOptions dlq_options;
  auto* dlq = app.add_subcommand("dlq", "The dead-letter queue in state.dir (engine running or not)");
  dlq->require_subcommand(1);
  auto add_filters = [&](CLI::App* sub) {
    add_config(sub);
    sub->add_option("--pipeline", dlq_options.pipeline, "Only entries of this pipeline");
    sub->add_option("--sink", dlq_options.sink, "Only entries of this sink");
    sub->add_option("--older-than", dlq_options.older_than, "Only entries that failed at least this long ago (e.g. 2h)");
  };
  auto* dlq_list = dlq->add_subcommand("list", "List entries: id, pipeline, sink, event, attempts, age, last error");
  add_filters(dlq_list);
  dlq_list->add_flag("--json", dlq_options.json, "Print a JSON array");
  auto* dlq_show = dlq->add_subcommand("show", "Show one entry with its event");
  add_config(dlq_show);
  dlq_show->add_option("id", dlq_options.ids, "Entry id")->required()->expected(1);
  auto* dlq_replay = dlq->add_subcommand("replay", "Deliver entries again, to their sink only");
  add_filters(dlq_replay);
  dlq_replay->add_option("ids", dlq_options.ids, "Entry ids");
  dlq_replay->add_flag("--all", dlq_options.all, "Every entry (that matches the filters)");
  auto* dlq_drop = dlq->add_subcommand("drop", "Delete entries");
  add_filters(dlq_drop);
  dlq_drop->add_option("ids", dlq_options.ids, "Entry ids");
  dlq_drop->add_flag("--all", dlq_options.all, "Every entry (that matches the filters)");
  auto* dlq_adopt = dlq->add_subcommand(
      "adopt", "Move the undelivered journal events of a pipeline no file defines any more into the DLQ "
               "(engine stopped)");
  add_config(dlq_adopt);
  dlq_adopt->add_option("pipeline", dlq_options.pipeline, "Pipeline name")->required();

  cli::HealthOptions health_options;
  int health_timeout_s = 5;
  auto* health = app.add_subcommand(
      "health", "Ask a running engine's admin listener for /healthz (exit 0 on HTTP 200), for container "
                "health checks and probes");
  add_config(health);
  health->add_flag("--ready", health_options.ready, "Ask /readyz instead (what runs can serve: the journal keeps events, the listener is up, no pipeline fails to start)");
  health->add_option("--url", health_options.url, "Where to ask (default: /healthz on admin.listen)");
  health->add_option("--timeout", health_timeout_s, "Seconds to wait for the answer")->check(CLI::Range(1, 300));

  cli::RenderOptions render_options;
  auto* render = app.add_subcommand(
      "render", "Print what each sink of PIPELINE would send for INPUT (method, URL, headers, body), sending "
                "nothing: INPUT goes through the pipeline's transforms and each sink's if: first");
  add_config(render);
  render->add_option("pipeline", render_options.pipeline, "Pipeline file")->required();
  render->add_option("input", render_options.input,
                     "JSON file ('-' for stdin): an input as a test case writes it ({type, payload or payload_file, "
                     "meta...}), a list of them, or a bare payload")
      ->required();
  render->add_option("--type", render_options.type, "Event type of a bare payload (default: test.input)");
  render->add_option("--var", render_options.variables,
                     "NAME=VALUE for ${NAME} and env.NAME in the pipeline, over the environment (repeatable)");
  render->add_flag("--show-secrets", render_options.show_secrets,
                   "Print the values of secret options (default: <redacted>)");
  render->add_option("--format", render_options.format, "json: a JSON array, one object per sink and event; text")
      ->check(CLI::IsMember({"text", "json"}));

  cli::TapOptions tap_options;
  auto* tap = app.add_subcommand(
      "tap", "Print, one JSON line each, the stages events of PIPELINE pass in a running engine: the transforms' "
             "verdict, each sink's attempts (from the admin stream; envelope fields only)");
  add_config(tap);
  tap->add_option("pipeline", tap_options.pipeline, "Pipeline name")->required();
  tap->add_option("--admin", tap_options.admin, "The admin listener, HOST:PORT (default: admin.listen)");
  tap->add_flag("--payload", tap_options.payload, "Also each event's payload as its sinks get it (\"data\" on the transforms line)");

  CLI11_PARSE(app, argc, argv);
  common.config_explicit = !common.config_file.empty();
  if (!common.config_explicit) {
    // The variable names a file as -c does: a missing one is an error, not the defaults.
    const char* from_env = std::getenv("SWITCHYARD_CONFIG");
    common.config_explicit = from_env != nullptr && *from_env != '\0';
    common.config_file = common.config_explicit ? from_env : default_config_file();
  }
  health_options.timeout = std::chrono::seconds(health_timeout_s);

  if (*run) return cli::run(common, strict);
  if (*validate) return cli::validate(common, files, validate_format);
  if (*test) return cli::test(common, test_files);
  if (*list) return cli::plugins_list(common, list_json);
  if (*describe) return cli::plugins_describe(common, type);
  if (*docs) return cli::plugins_docs(common);
  if (*check) return cli::plugins_check(library);
  if (*send) return cli::send(common, send_options);
  if (*dlq_list) return cli::dlq_list(common, dlq_options);
  if (*dlq_show) return cli::dlq_show(common, dlq_options);
  if (*dlq_replay) return cli::dlq_replay(common, dlq_options);
  if (*dlq_drop) return cli::dlq_drop(common, dlq_options);
  if (*dlq_adopt) return cli::dlq_adopt(common, dlq_options);
  if (*health) return cli::health(common, health_options);
  if (*tap) return cli::tap(common, tap_options);
  if (*render) return cli::render(common, render_options);
  return 1;
}
