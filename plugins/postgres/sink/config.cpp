// The postgres sink's declaration and its options.
#include <algorithm>

#include "sink/settings.hpp"
#include "sink/sink.hpp"

namespace switchyard::postgres {
namespace {

constexpr OptionSpec kBatch[] = {
    {.name = "max_rows", .type = OptionType::integer, .default_value = "500",
     .description = "Most rows written in one transaction. A batch gathers the events the engine "
                    "hands the sink at once: set the sink's concurrency to max_rows x pool_size "
                    "(e.g. 1000) or batches stay one row."},
    {.name = "max_delay", .type = OptionType::duration, .default_value = "50ms",
     .description = "Longest an event waits for its batch to fill before the batch is written "
                    "anyway; 0 writes what is there at once. No event waits while the sink holds "
                    "as many as the engine hands it at once (concurrency): none more can come."},
};

constexpr OptionSpec kOnConflict[] = {
    {.name = "columns", .type = OptionType::string_list,
     .description = "The conflict target: columns of a unique index or primary key (required "
                    "with update).",
     .example = "[delivery_id]"},
    {.name = "update", .type = OptionType::json,
     .description = "What a conflicting row becomes: a list of columns set from the new row "
                    "(EXCLUDED), a map of column to SQL expression over the table and EXCLUDED "
                    "(written in the pipeline, never taken from events), or nothing (keep the "
                    "existing row, the default).",
     .example = "{commits: \"author_stats.commits + excluded.commits\", last_seen: excluded.last_seen}"},
};

constexpr OptionSpec kOptions[] = {
    {.name = "dsn", .type = OptionType::string, .required = true,
     .description = "libpq connection string or postgresql:// URL. Use sslmode=verify-full "
                    "for servers across a network (the server's certificate is checked then).",
     .example = "postgresql://switchyard@db.internal/ci?sslmode=verify-full", .secret = true},
    {.name = "table", .type = OptionType::string, .required = true,
     .description = "Target table, optionally schema.table; names are used as written (quoted).",
     .example = "builds"},
    {.name = "columns", .type = OptionType::template_map, .required = true,
     .description = "Column to value, rendered per event. Each value is checked against the "
                    "column's type as the database declares it; one that does not fit fails its "
                    "event (dead-lettered, naming the column), not the batch.",
     .example = "{external_id: \"${{ payload.workflow_run.id }}\", status: \"${{ payload.workflow_run.conclusion }}\"}"},
    {.name = "on_conflict", .type = OptionType::object,
     .description = "Upsert: what to do when a row conflicts with a unique index. Without it, "
                    "a conflict fails the event.",
     .children = kOnConflict},
    {.name = "batch", .type = OptionType::object, .description = "Rows per transaction.",
     .children = kBatch},
    {.name = "create_table", .type = OptionType::string_map,
     .description = "Column to SQL type: creates the table at start when it does not exist (for "
                    "demos and tests; an existing table is never altered).",
     .example = "{external_id: bigint primary key, status: text, started_at: timestamptz}"},
    {.name = "pool_size", .type = OptionType::integer, .default_value = "2",
     .description = "Sessions to the database, each writing one batch at a time."},
    {.name = "timeout", .type = OptionType::duration, .default_value = "30s",
     .description = "Longest wait for a batch's commit; past it the session is closed and the "
                    "batch retried."},
    {.name = "connect_timeout", .type = OptionType::duration, .default_value = "10s",
     .description = "Connecting, TLS and authentication included."},
    {.name = "ca_file", .type = OptionType::string,
     .description = "PEM file of CAs to trust for the server's certificate (sslrootcert); with "
                    "it, sslmode defaults to verify-full."},
};

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 63 && name.find('\0') == std::string_view::npos;
}

}  // namespace

const ComponentDecl kSinkDecl{
    .kind = ComponentKind::sink,
    .type = "postgres",
    .summary = "Writes each event as a row (INSERT or upsert) into a PostgreSQL table, in "
               "batches of one transaction each; values are bound with the column types the "
               "database declares.",
    .options = kOptions,
    .create = &make_component<PostgresSink>,
};

Result<SinkSettings> read_sink_settings(const Options& options) {
  SinkSettings s;
  std::vector<std::string> errors;
  auto target = parse_dsn(options.string("dsn"), options.string("ca_file"), "switchyard");
  if (!target) {
    errors.push_back(target.error().message);
  } else {
    s.target = std::make_shared<const ConnectTarget>(std::move(*target));
  }

  const std::string_view table = options.string("table");
  if (const auto dot = table.find('.'); dot != std::string_view::npos) {
    s.schema = std::string(table.substr(0, dot));
    s.table = std::string(table.substr(dot + 1));
    if (!valid_name(s.schema) || !valid_name(s.table) || s.table.find('.') != std::string::npos) {
      errors.push_back("table: expected table or schema.table, names of 1 to 63 bytes");
    }
  } else {
    s.table = std::string(table);
    if (!valid_name(s.table)) errors.push_back("table: expected a name of 1 to 63 bytes");
  }

  const Options columns = options.object("columns");
  for (const auto& [name, text] : options.text_map("columns")) {
    if (!valid_name(name)) errors.push_back("columns: '" + std::string(name) + "' is not a column name");
    s.columns.push_back({std::string(name), columns.template_of(name), std::string(text.literal())});
  }
  if (s.columns.empty()) errors.push_back("columns: map at least one column to a value");
  auto has_column = [&](std::string_view name) {
    return std::any_of(s.columns.begin(), s.columns.end(), [&](const auto& c) { return c.name == name; });
  };

  // An absent object option is an empty object (with its children's defaults).
  const Options conflict = options.object("on_conflict");
  if (conflict.has("columns") || conflict.has("update")) {
    s.conflict_columns = conflict.strings("columns");
    for (const auto& c : s.conflict_columns) {
      if (!has_column(c)) errors.push_back("on_conflict.columns: '" + c + "' is not one of columns");
    }
    const rapidjson::Value& update = conflict.json("update");
    s.on_conflict = SinkSettings::OnConflict::update;
    const std::size_t errors_before = errors.size();
    if (update.IsNull() || (update.IsString() && std::string_view(update.GetString()) == "nothing")) {
      s.on_conflict = SinkSettings::OnConflict::nothing;
    } else if (update.IsArray()) {
      for (const auto& item : update.GetArray()) {
        if (!item.IsString() || !has_column(item.GetString())) {
          errors.push_back("on_conflict.update: each listed column must be one of columns");
          continue;
        }
        s.update.emplace_back(item.GetString(), std::string());
      }
    } else if (update.IsObject()) {
      for (const auto& m : update.GetObject()) {
        if (!m.value.IsString() || m.value.GetStringLength() == 0) {
          errors.push_back("on_conflict.update." + std::string(m.name.GetString()) + ": expected an SQL expression");
          continue;
        }
        s.update.emplace_back(m.name.GetString(), m.value.GetString());
      }
    } else {
      errors.push_back("on_conflict.update: expected a list of columns, a map of column to expression, or nothing");
    }
    const bool update_ok = errors.size() == errors_before;
    if (s.on_conflict == SinkSettings::OnConflict::update) {
      if (s.update.empty() && (update.IsArray() || update.IsObject()) && update_ok) {
        errors.push_back("on_conflict.update: name at least one column");
      }
      if (s.conflict_columns.empty()) errors.push_back("on_conflict.columns: required to update on conflict");
    }
  }

  if (const auto& create = options.json("create_table"); create.IsObject()) {
    for (const auto& m : create.GetObject()) {
      if (!valid_name(m.name.GetString()) || m.value.GetStringLength() == 0) {
        errors.push_back("create_table." + std::string(m.name.GetString()) + ": expected a column name and its SQL type");
        continue;
      }
      s.create_table.emplace_back(m.name.GetString(), m.value.GetString());
    }
  }

  const Options batch = options.object("batch");
  const std::int64_t max_rows = batch.integer("max_rows", 500);
  if (max_rows < 1 || max_rows > 10000) errors.push_back("batch.max_rows: expected 1 to 10000");
  s.max_rows = static_cast<std::size_t>(std::clamp<std::int64_t>(max_rows, 1, 10000));
  s.max_delay = batch.duration("max_delay", s.max_delay);
  if (s.max_delay > std::chrono::seconds(10)) errors.push_back("batch.max_delay: at most 10s");
  const std::int64_t pool = options.integer("pool_size", 2);
  if (pool < 1 || pool > 64) errors.push_back("pool_size: expected 1 to 64");
  s.pool_size = static_cast<std::size_t>(std::clamp<std::int64_t>(pool, 1, 64));
  s.timeout = options.duration("timeout", s.timeout);
  s.connect_timeout = options.duration("connect_timeout", s.connect_timeout);
  if (s.timeout.count() <= 0) errors.push_back("timeout: must be more than 0");
  if (s.connect_timeout.count() <= 0) errors.push_back("connect_timeout: must be more than 0");

  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "; ") + e;
    return invalid_config(std::move(message));
  }
  return s;
}

}  // namespace switchyard::postgres
