#pragma once
// `postgres.query` transform: runs one parameterised query per event and attaches the rows
// (an array of objects with typed JSON values) to the event, for answers built from stored
// data (`/stats user:`, `/summary pr:`). An AsyncTransform: the pipeline is not blocked
// while the database answers.
//
// Each session of the pool is set up once: statement_timeout (= timeout), UTC and ISO
// dates, default_transaction_read_only (unless read_only: false), and the query prepared
// (and described, to check the number of parameters). Each event then costs one round
// trip: Bind/Execute of the prepared statement and a Sync, rows read one at a time.

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "pg/pool.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::postgres {

extern const ComponentDecl kQueryDecl;

struct QuerySettings {
  std::shared_ptr<const ConnectTarget> target;
  std::string query;
  std::vector<TextOption> params;
  bool into_meta = true;             ///< meta.…, else payload.…
  std::vector<std::string> into;     ///< the path below meta or payload
  bool drop_when_empty = false;
  bool keep_on_error = false;        ///< on_error: keep (into set to null) instead of failing
  std::size_t max_rows = 100;
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds connect_timeout{10000};
  bool read_only = true;
  std::size_t pool_size = 2;
};

class PostgresQuery final : public AsyncTransform {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void process(Event& event, TransformCallback done) override;
  void stop() override;

 private:
  struct Request;

  void setup(Connection& connection, std::function<void(Status)> done);
  void run(const std::shared_ptr<Request>& request, Connection& connection);
  void answered(const std::shared_ptr<Request>& request, Connection& connection, ExchangeResult result);
  void fail(const std::shared_ptr<Request>& request, Error error);
  void finish(const std::shared_ptr<Request>& request, Result<Verdict> verdict);
  Status attach(Event& event, rapidjson::Value& rows) const;

  QuerySettings settings_;
  Context* context_ = nullptr;
  std::unique_ptr<Pool> pool_;
  Histogram* latency_ = nullptr;
  Counter* timeouts_ = nullptr;
  std::set<std::shared_ptr<Request>> in_flight_;  // decided at stop() if still waiting
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace switchyard::postgres
