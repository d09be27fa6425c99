// A thin RAII layer over libpq: a connection, a result, statements with
// parameters sent as text. Synchronous, but for send(), send_prepared() and
// receive(), which never wait for the server: the PostgreSQL
// engine's sessions, the schema migration of `kintod migrate`, tests and benchmarks.
// Beyond storage/, only tests and benchmarks include it. No exception
// leaves it.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kinto::storage::pg {

/// The result of one statement (PGresult), owned.
class result {
public:
  result() = default;
  explicit result(PGresult* r) : r_(r) {}

  /// Whether the statement succeeded (a command, or rows).
  bool ok() const;
  /// The server's message, or libpq's when the statement never ran.
  std::string error() const;
  /// The SQLSTATE code ("40001", "23505"); empty when there is none.
  std::string sqlstate() const;
  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  /// How many rows an INSERT, UPDATE or DELETE touched.
  int affected() const;
  /// The command tag ("COMMIT"; "ROLLBACK" for a COMMIT of a failed
  /// transaction); empty without a result.
  std::string_view command() const { return r_ ? PQcmdStatus(r_.get()) : ""; }
  /// The text of a field; empty when it is NULL.
  std::string_view text(int row, int column) const;

private:
  struct clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, clear> r_;
};

/// A parameter of a statement: its text, or NULL.
using param = std::optional<std::string>;

/// One connection to a server (PGconn), owned.
class connection {
public:
  /// Connects to `url` (a libpq URI, `postgresql://user:pass@host:port/db`,
  /// or key=value pairs); nullopt with `error` set when that fails. A
  /// positive `connect_timeout` bounds the attempt unless `url` sets its own.
  static std::optional<connection> open(const std::string& url, std::string& error,
                                        std::chrono::seconds connect_timeout = {});

  /// Runs `sql`, which may hold several statements, in the simple query
  /// protocol: the result of the last one (or of the first that failed).
  result run(const std::string& sql);
  /// Runs one statement with `$1`... parameters sent as text.
  result run(const std::string& sql, const std::vector<param>& params);
  /// Prepares `sql` (one statement, `$1`... parameters) as the statement
  /// `name` of this connection's session.
  result prepare(const std::string& name, const std::string& sql);
  /// Runs the prepared statement `name` with `params` sent as text.
  result run_prepared(const std::string& name, const std::vector<param>& params);
  /// Runs the statements `first` (one statement each, no parameters), then
  /// the prepared statement `name`, in one round trip (libpq's pipeline
  /// mode): the result of `name`, or the first failure before it.
  result run_prepared_after(const std::vector<std::string>& first, const std::string& name,
                            const std::vector<param>& params);
  /// Sends `sql` (statements without parameters) and returns at once; its
  /// results are read by settle(), before anything else runs. False when
  /// it could not be sent.
  bool send(const std::string& sql);
  /// Reads the results of what send() sent: whether every statement
  /// succeeded.
  bool settle();
  /// Sends the prepared statement `name` with `params` and returns at once;
  /// receive() reads its result. False when it could not be sent.
  bool send_prepared(const std::string& name, const std::vector<param>& params);
  /// Reads, without waiting, what the server sent of the answer to
  /// send() or send_prepared(): its result (the first failure, or the last
  /// result) once it is all there, nullopt while more is to come (wait
  /// until socket() is readable, then call again). A lost connection
  /// answers a failed result.
  std::optional<result> receive();
  /// The connection's socket, to wait on; -1 without one.
  int socket() const { return c_ ? PQsocket(c_.get()) : -1; }
  /// Reads what the server sent without waiting; false when the
  /// connection is lost.
  bool consume();
  /// The payload of the next notification received (LISTEN), if any.
  std::optional<std::string> notification();
  /// Whether the server is still there, as far as what it sent says
  /// without waiting: false once it closed the connection (it restarted).
  bool alive();
  /// Closes the connection: it is broken from then on.
  void close() { c_.reset(); }
  /// Whether the connection is lost (or was never made): nothing more can
  /// run on it.
  bool broken() const { return !c_ || PQstatus(c_.get()) != CONNECTION_OK; }

private:
  struct finish {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  explicit connection(PGconn* c) : c_(c) {}
  std::unique_ptr<PGconn, finish> c_;
  result received_; ///< what receive() has read so far
  bool failed_ = false; ///< received_ is a failure: it is the answer
};

} // namespace kinto::storage::pg
