#pragma once
// A throwaway PostgreSQL server for tests: initdb into a temp dir, `postgres` on a free
// loopback port with its Unix socket in that dir, stopped by PID, the dir removed. The
// server refuses to run as root, so under root (CI) initdb and postgres run as `nobody`
// through setpriv, in a dir that user owns. Binaries: $SWITCHYARD_PG_BINDIR, else Debian's
// /usr/lib/postgresql/<version>/bin (package postgresql).
//
//   switchyard::test::PostgresServer pg;      // started, database "postgres", user "postgres"
//   pg.execute("CREATE TABLE t (id int)");
//   auto rows = pg.query("SELECT id FROM t");  // rows of optional strings
//   pg.stop(); pg.start();                     // same data, same port

#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::test {

class PostgresServer {
 public:
  using Row = std::vector<std::optional<std::string>>;

  explicit PostgresServer(std::vector<std::string> settings = {}) : settings_(std::move(settings)) {
    bindir_ = find_bindir();
    data_ = dir_.path() / "data";
    if (::geteuid() == 0) {
      // nobody must be able to reach and own its directory.
      std::filesystem::permissions(dir_.path(), std::filesystem::perms::owner_all);
      if (::chown(dir_.path().c_str(), kNobody, kNogroup) != 0) throw std::runtime_error("chown of the server dir failed");
    }
    auto init = run_as_server({(bindir_ / "initdb").string(), "-D", data_.string(), "-U", "postgres",
                               "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"});
    if (init.code != 0) throw std::runtime_error("initdb failed: " + init.err);
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = free_port();
      if (try_start()) return;
    }
    throw std::runtime_error("postgres did not start: " + last_output_);
  }
  ~PostgresServer() { stop(); }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  /// A libpq connection string for `database` over TCP on loopback.
  std::string dsn(const std::string& database = "postgres") const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database;
  }

  /// Fast shutdown (SIGINT: sessions are ended, nothing lost), waiting until it exited.
  void stop() {
    if (!server_) return;
    server_->signal(SIGINT);
    if (!server_->wait(std::chrono::seconds(30))) server_->signal(SIGKILL), server_->wait();
    server_.reset();
  }
  /// Starts it again on the same data and port.
  void start() {
    if (!server_ && !try_start()) throw std::runtime_error("postgres did not restart: " + last_output_);
  }

  /// Runs `sql` (blocking: test code only); throws with PostgreSQL's message on failure.
  void execute(const std::string& sql) { query(sql); }
  std::vector<Row> query(const std::string& sql, const std::string& database = "postgres") {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(dsn(database).c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.get(), sql.c_str()), &PQclear);
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
    }
    std::vector<Row> rows;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      Row row;
      for (int f = 0; f < PQnfields(r.get()); ++f) {
        row.push_back(PQgetisnull(r.get(), i, f) ? std::nullopt : std::optional<std::string>(PQgetvalue(r.get(), i, f)));
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }
  /// The one value of a one-row, one-column query.
  std::string scalar(const std::string& sql) {
    auto rows = query(sql);
    if (rows.size() != 1 || rows[0].size() != 1 || !rows[0][0]) throw std::runtime_error(sql + ": not one value");
    return *rows[0][0];
  }

 private:
  static constexpr uid_t kNobody = 65534;
  static constexpr gid_t kNogroup = 65534;

  static std::filesystem::path find_bindir() {
    if (const char* dir = std::getenv("SWITCHYARD_PG_BINDIR")) return dir;
    for (int version = 17; version >= 14; --version) {
      std::filesystem::path dir = "/usr/lib/postgresql/" + std::to_string(version) + "/bin";
      if (std::filesystem::exists(dir / "postgres")) return dir;
    }
    throw std::runtime_error("no PostgreSQL server found: install Debian's postgresql or set SWITCHYARD_PG_BINDIR");
  }

  static int free_port() {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(s);
      throw std::runtime_error("no free port");
    }
    ::close(s);
    return ntohs(addr.sin_port);
  }

  std::vector<std::string> as_server(std::vector<std::string> args) const {
    if (::geteuid() != 0) return args;
    std::vector<std::string> out{"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  Outcome run_as_server(const std::vector<std::string>& args) { return run_to_end(as_server(args), logs_); }

  // Starts postgres and waits until it accepts connections (its log says so) or exits.
  bool try_start() {
    std::vector<std::string> args{(bindir_ / "postgres").string(), "-D", data_.string(), "-p", std::to_string(port_),
                                  "-k", dir_.path().string(), "-c", "listen_addresses=127.0.0.1",
                                  "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "log_min_messages=warning"};
    for (const auto& s : settings_) args.insert(args.end(), {"-c", s});
    server_ = std::make_unique<Child>(as_server(args), logs_.path());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (ready()) return true;
      if (server_->wait(std::chrono::milliseconds(20))) {  // exited: a port taken after all?
        last_output_ = server_->err();
        server_.reset();
        return false;
      }
    }
    last_output_ = server_->err();
    stop();
    return false;
  }

  bool ready() const {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb((dsn() + " connect_timeout=2").c_str()), &PQfinish);
    return PQstatus(conn.get()) == CONNECTION_OK;
  }

  std::vector<std::string> settings_;
  TempDir dir_;   // data and socket; owned by nobody under root
  TempDir logs_;  // the server's output, readable by the test
  std::filesystem::path bindir_, data_;
  std::string last_output_;
  int port_ = 0;
  std::unique_ptr<Child> server_;
};

}  // namespace switchyard::test
