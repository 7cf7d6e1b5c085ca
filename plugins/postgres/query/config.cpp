// The postgres.query transform's declaration and its options.
#include <algorithm>

#include "query/query.hpp"

namespace switchyard::postgres {
namespace {

constexpr const char* kOnEmpty[] = {"keep", "drop"};
constexpr const char* kOnError[] = {"fail", "keep"};

constexpr OptionSpec kOptions[] = {
    {.name = "dsn", .type = OptionType::string, .required = true,
     .description = "libpq connection string or postgresql:// URL. Use sslmode=verify-full "
                    "for servers across a network; a role with SELECT rights only is the real "
                    "guard of a read-only query.",
     .example = "postgresql://opscord_read@db.internal/opscord?sslmode=verify-full", .secret = true},
    {.name = "query", .type = OptionType::string, .required = true,
     .description = "One SQL statement with $1..$n for the params; prepared once per session.",
     .example = "SELECT login, xp, commits FROM contributors WHERE login = $1"},
    {.name = "params", .type = OptionType::template_list, .default_value = "[]",
     .description = "The values of $1..$n, rendered per event and sent as text (never spliced "
                    "into the SQL); PostgreSQL reads them with the types the query implies. An "
                    "empty value is the empty string: write NULLIF($1, '') to mean NULL.",
     .example = "[\"${{ payload.data.options[0].value }}\"]"},
    {.name = "into", .type = OptionType::string, .default_value = "meta.rows",
     .description = "Where the rows go, as meta.<path> or payload.<path>: a list of objects, "
                    "one per row, column name to typed JSON value (numbers, booleans, json/jsonb "
                    "parsed, arrays as lists, timestamps in RFC 3339 UTC, NULL as null)."},
    {.name = "on_empty", .type = OptionType::string, .default_value = "keep",
     .description = "When the query returns no row: keep the event (with an empty list) or drop it.",
     .choices = kOnEmpty},
    {.name = "on_error", .type = OptionType::string, .default_value = "fail",
     .description = "When the rows cannot be had (the database is down, the query fails or "
                    "times out): fail the event (logged, counted, not delivered), or keep it "
                    "with null where the rows would be, so that a reply can say so.",
     .choices = kOnError},
    {.name = "max_rows", .type = OptionType::integer, .default_value = "100",
     .description = "Most rows attached; further rows are read and discarded (give the query a "
                    "LIMIT)."},
    {.name = "timeout", .type = OptionType::duration, .default_value = "5s",
     .description = "Longest the event waits for its rows, waiting for a session included; also "
                    "the session's statement_timeout. A slash command must be answered within 3 s."},
    {.name = "read_only", .type = OptionType::boolean, .default_value = "true",
     .description = "Run the query in read-only transactions (default_transaction_read_only): a "
                    "query that writes fails."},
    {.name = "pool_size", .type = OptionType::integer, .default_value = "2",
     .description = "Sessions to the database; each runs one query at a time."},
    {.name = "connect_timeout", .type = OptionType::duration, .default_value = "10s",
     .description = "Connecting, TLS and authentication included."},
    {.name = "ca_file", .type = OptionType::string,
     .description = "PEM file of CAs to trust for the server's certificate (sslrootcert); with "
                    "it, sslmode defaults to verify-full."},
};

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto dot = path.find('.', start);
    out.emplace_back(path.substr(start, dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

}  // namespace

const ComponentDecl kQueryDecl{
    .kind = ComponentKind::transform,
    .type = "postgres.query",
    .summary = "Runs a parameterised query (prepared, read-only by default) for each event and "
               "attaches the rows as typed JSON, without blocking the pipeline.",
    .options = kOptions,
    .create = &make_component<PostgresQuery>,
};

Status PostgresQuery::configure(const Options& options, Context& context) {
  context_ = &context;
  QuerySettings& s = settings_;
  std::vector<std::string> errors;
  auto target = parse_dsn(options.string("dsn"), options.string("ca_file"), "switchyard");
  if (!target) {
    errors.push_back(target.error().message);
  } else {
    s.target = std::make_shared<const ConnectTarget>(std::move(*target));
  }
  s.query = std::string(options.string("query"));
  if (s.query.find_first_not_of(" \t\r\n") == std::string::npos) errors.push_back("query: must not be empty");
  s.params = options.texts("params");
  auto path = split_path(options.string("into"));
  if (path.size() < 2 || (path[0] != "meta" && path[0] != "payload") ||
      std::any_of(path.begin() + 1, path.end(), [](const std::string& p) { return p.empty(); })) {
    errors.push_back("into: expected meta.<name> or payload.<name>[.<name>...]");
  } else {
    s.into_meta = path[0] == "meta";
    s.into.assign(path.begin() + 1, path.end());
  }
  s.drop_when_empty = options.string("on_empty") == "drop";
  s.keep_on_error = options.string("on_error") == "keep";
  const std::int64_t max_rows = options.integer("max_rows", 100);
  if (max_rows < 1 || max_rows > 100000) errors.push_back("max_rows: expected 1 to 100000");
  s.max_rows = static_cast<std::size_t>(std::clamp<std::int64_t>(max_rows, 1, 100000));
  s.timeout = options.duration("timeout", s.timeout);
  if (s.timeout.count() <= 0) errors.push_back("timeout: must be more than 0");
  s.connect_timeout = options.duration("connect_timeout", s.connect_timeout);
  if (s.connect_timeout.count() <= 0) errors.push_back("connect_timeout: must be more than 0");
  s.read_only = options.boolean("read_only", true);
  const std::int64_t pool = options.integer("pool_size", 2);
  if (pool < 1 || pool > 64) errors.push_back("pool_size: expected 1 to 64");
  s.pool_size = static_cast<std::size_t>(std::clamp<std::int64_t>(pool, 1, 64));
  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "; ") + e;
    return invalid_config(std::move(message));
  }
  latency_ = &context.metrics().histogram("switchyard_postgres_query_seconds",
                                          "Time from an event's arrival to its rows (or failure).");
  timeouts_ = &context.metrics().counter("switchyard_postgres_query_timeouts_total",
                                         "Events whose rows did not come within timeout.");
  return {};
}

}  // namespace switchyard::postgres
