#pragma once
// `postgres` sink: each event becomes one row of a table, written in batches.
//
// The engine hands a sink one event per deliver() and up to the sink's `concurrency` at
// once; the events that arrive together form a batch (up to batch.max_rows, or whatever is
// there after batch.max_delay, or at once when the sink holds as many events as the engine
// ever handed it at once), written on one session of the pool in pipeline mode: one
// prepared INSERT per row and one Sync, so one transaction and one round trip. Every
// event of a batch is acknowledged only once it has committed. A batch that fails on a
// row is written again row by row, each row its own transaction in the same round trip:
// the bad rows fail (with PostgreSQL's words) and the others land. A lost session,
// deadlock or serialization failure fails the batch as retryable; the engine retries.

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <vector>

#include "pg/pool.hpp"
#include "sink/settings.hpp"
#include "sink/table.hpp"

namespace switchyard::postgres {

class PostgresSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  /// The INSERT deliver() writes the event's row with: method "SQL", the server
  /// (postgresql://host:port/db, no password) as url, the statement as body, its parameters
  /// as headers "$1", "$2"... (a NULL one left out). Column types are the database's, read
  /// once connected: here every value is encoded as for a text column.
  Result<std::optional<Rendering>> render(const Event& event) override;
  void drain(std::function<void()> done) override;
  void stop() override;

 private:
  struct Row {
    EventPtr event;
    DeliveryCallback done;
    std::vector<Param> params;
  };
  struct Batch {
    std::vector<Row> rows;
    std::size_t count = 0;  // rows.size() when written (rows are moved out at the end)
    std::shared_ptr<const Table> table;
  };
  using Batches = std::list<Batch>;

  // A new session (setup.cpp): the table's columns, the table created if asked, the INSERT prepared.
  using SetUp = std::function<void(Status)>;
  void setup(Connection& connection, SetUp done);
  void read_columns(Connection& connection, const std::string& qualified, bool may_create, SetUp done);
  void create_table(Connection& connection, const std::string& qualified, SetUp done);
  void prepare_insert(Connection& connection, std::shared_ptr<const Table> table, SetUp done);

  void dispatch();
  void on_session(Result<Connection*> session);
  void write(Connection& connection, Batches::iterator batch);
  void on_written(Connection& connection, Batches::iterator batch, ExchangeResult result);
  void write_one_by_one(Connection& connection, Batches::iterator batch);
  void finish(Connection& connection, Batches::iterator batch);
  void check_drained();

  SinkSettings settings_;
  Context* context_ = nullptr;
  std::unique_ptr<Pool> pool_;
  std::vector<Row> pending_;       // not yet in a batch, oldest first
  Batches writing_;                // batches on a session
  std::size_t requested_ = 0;      // sessions asked of the pool, not yet here
  std::size_t writing_rows_ = 0;   // rows of the batches in writing_
  std::size_t peak_ = 0;           // most events ever held at once: the engine's concurrency, learnt
  bool flush_due_ = false;         // pending_ is due: write as soon as a session is free
  bool timer_armed_ = false;
  bool accepting_ = false;
  bool told_table_ = false;
  std::unique_ptr<Timer> timer_;
  std::function<void()> drained_;
  rapidjson::MemoryPoolAllocator<> scratch_;  // rendered values of the row being encoded
  Histogram* batch_rows_ = nullptr;
  Counter* row_retries_ = nullptr;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace switchyard::postgres
