// A new session of the postgres sink: the table's columns read from the catalog (the table
// created first when create_table asks for it), and the INSERT prepared with each parameter
// typed as its column. The session keeps the Table it was prepared for (session_data), so a
// batch is always encoded for the columns its session knows.
#include "sink/sink.hpp"

namespace switchyard::postgres {
namespace {

std::vector<Command> one(Command command) {
  std::vector<Command> commands;
  commands.push_back(std::move(command));
  return commands;
}

CatalogColumn catalog_row(const PGresult& r, int i) {
  return CatalogColumn{
      .name = PQgetvalue(&r, i, 0),
      .oid = static_cast<Oid>(std::strtoul(PQgetvalue(&r, i, 1), nullptr, 10)),
      .sql_type = PQgetvalue(&r, i, 2),
      .base_name = PQgetvalue(&r, i, 3),
      .base_category = PQgetvalue(&r, i, 4)[0],
      .element_name = PQgetvalue(&r, i, 5),
      .element_category = PQgetvalue(&r, i, 6)[0],
  };
}

QuoteIdentifier quoting(Connection& connection) {
  return [&connection](std::string_view name) { return connection.quote_identifier(name); };
}

}  // namespace

void PostgresSink::setup(Connection& connection, SetUp done) {
  auto qualified = qualified_name(settings_, quoting(connection));
  if (!qualified) return done(permanent("cannot quote the table name"));
  read_columns(connection, *qualified, !settings_.create_table.empty(), std::move(done));
}

void PostgresSink::read_columns(Connection& connection, const std::string& qualified, bool may_create, SetUp done) {
  auto catalog = std::make_shared<std::vector<CatalogColumn>>();
  Command query{.kind = Command::Kind::execute, .sql = kColumnsQuery, .params = {qualified}};
  query.on_rows = [catalog](const PGresult& r) {
    for (int i = 0; i < PQntuples(&r); ++i) catalog->push_back(catalog_row(r, i));
  };
  connection.run(one(std::move(query)), settings_.timeout,
                 [this, alive = std::weak_ptr<char>(alive_), &connection, qualified, may_create, catalog,
                  done = std::move(done)](ExchangeResult result) mutable {
    if (alive.expired()) return;
    if (!result) return done(result.error());
    if (const auto& e = (*result)[0].error) return done(to_error(*e, "reading the columns of " + qualified));
    if (catalog->empty()) {
      // A migration may be on its way: retryable, and the operator is told at start.
      if (!may_create) return done(retryable("table " + qualified + " does not exist (create it, or give create_table)"));
      return create_table(connection, qualified, std::move(done));
    }
    auto table = make_table(settings_, qualified, *catalog, quoting(connection));
    if (!table) return done(table.error());
    prepare_insert(connection, std::make_shared<const Table>(std::move(*table)), std::move(done));
  });
}

void PostgresSink::create_table(Connection& connection, const std::string& qualified, SetUp done) {
  auto sql = create_table_sql(settings_, qualified, quoting(connection));
  if (!sql) return done(permanent("cannot quote a column name of create_table"));
  connection.run(one(Command{.kind = Command::Kind::execute, .sql = *sql}), settings_.timeout,
                 [this, alive = std::weak_ptr<char>(alive_), &connection, qualified,
                  done = std::move(done)](ExchangeResult created) mutable {
    if (alive.expired()) return;
    if (!created) return done(created.error());
    if (const auto& e = (*created)[0].error) {
      // Another session created it first: 42P07, or, in that race, 42710 or 23505 for the
      // table's row type.
      if (e->sqlstate != "42P07" && e->sqlstate != "42710" && e->sqlstate != "23505") {
        return done(to_error(*e, "creating table " + qualified));
      }
    } else {
      context_->logger().info("created table " + qualified + " (create_table)");
    }
    read_columns(connection, qualified, false, std::move(done));
  });
}

void PostgresSink::prepare_insert(Connection& connection, std::shared_ptr<const Table> table, SetUp done) {
  Command prepare{.kind = Command::Kind::prepare, .statement = kInsertStatement, .sql = table->insert};
  for (const auto& c : table->columns) prepare.types.push_back(c.oid);
  connection.run(one(std::move(prepare)), settings_.timeout,
                 [this, alive = std::weak_ptr<char>(alive_), &connection, table,
                  done = std::move(done)](ExchangeResult prepared) {
    if (alive.expired()) return;
    if (!prepared) return done(prepared.error());
    if (const auto& e = (*prepared)[0].error) return done(to_error(*e, "preparing " + table->insert));
    connection.session_data() = table;
    if (!told_table_) {
      told_table_ = true;
      context_->logger().info("writing to " + table->qualified + " at " + settings_.target->description +
                              " in batches of up to " + std::to_string(settings_.max_rows) + " rows: " + table->insert);
    }
    done({});
  });
}

}  // namespace switchyard::postgres
