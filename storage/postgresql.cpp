#include "storage/postgresql.hpp"

#include <cstdlib>
#include <utility>

namespace kinto::storage::pg {

namespace {

/// libpq's message without its trailing newline.
std::string message_of(const char* text) {
  std::string message = text ? text : "";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

/// The values of `params` as libpq takes them: C strings, null for NULL.
std::vector<const char*> values_of(const std::vector<param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return values;
}

} // namespace

bool result::ok() const {
  if (!r_) return false;
  const auto s = PQresultStatus(r_.get());
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

std::string result::error() const {
  if (!r_) return "no result (connection lost?)";
  return message_of(PQresultErrorMessage(r_.get()));
}

std::string result::sqlstate() const {
  if (!r_) return {};
  const char* code = PQresultErrorField(r_.get(), PG_DIAG_SQLSTATE);
  return code ? code : "";
}

int result::affected() const {
  const char* n = r_ ? PQcmdTuples(r_.get()) : nullptr;
  return n && *n ? std::atoi(n) : 0;
}

std::string_view result::text(int row, int column) const {
  if (!r_ || row >= rows() || column >= PQnfields(r_.get())) return {};
  return {PQgetvalue(r_.get(), row, column), static_cast<std::size_t>(PQgetlength(r_.get(), row, column))};
}

std::optional<connection> connection::open(const std::string& url, std::string& error,
                                           std::chrono::seconds connect_timeout) {
  // The timeout comes first: what `url` sets, expanded from dbname, wins.
  const std::string timeout = std::to_string(connect_timeout.count());
  std::vector<const char*> keywords, values;
  if (connect_timeout.count() > 0) {
    keywords.push_back("connect_timeout");
    values.push_back(timeout.c_str());
  }
  keywords.insert(keywords.end(), {"dbname", nullptr});
  values.insert(values.end(), {url.c_str(), nullptr});
  PGconn* raw = PQconnectdbParams(keywords.data(), values.data(), 1);
  if (!raw) {
    error = "cannot allocate a PostgreSQL connection";
    return std::nullopt;
  }
  connection c(raw);
  if (PQstatus(raw) != CONNECTION_OK) {
    error = message_of(PQerrorMessage(raw));
    return std::nullopt;
  }
  return c;
}

result connection::run(const std::string& sql) {
  if (!c_) return result();
  return result(PQexec(c_.get(), sql.c_str()));
}

result connection::run(const std::string& sql, const std::vector<param>& params) {
  if (!c_) return result();
  const auto values = values_of(params);
  return result(PQexecParams(c_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                             nullptr, 0));
}

bool connection::send(const std::string& sql) { return c_ && PQsendQuery(c_.get(), sql.c_str()) == 1; }

bool connection::settle() {
  if (!c_) return false;
  bool ok = true;
  while (PGresult* r = PQgetResult(c_.get())) ok = result(r).ok() && ok;
  return ok && !broken();
}

bool connection::send_prepared(const std::string& name, const std::vector<param>& params) {
  if (!c_) return false;
  const auto values = values_of(params);
  return PQsendQueryPrepared(c_.get(), name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr,
                             0) == 1;
}

std::optional<result> connection::receive() {
  if (!c_) return result();
  PGconn* c = c_.get();
  if (PQconsumeInput(c) != 1) {
    received_ = result();
    failed_ = false;
    c_.reset();
    return result();
  }
  while (PQisBusy(c) == 0) {
    PGresult* r = PQgetResult(c);
    if (!r) {
      failed_ = false;
      return std::exchange(received_, result());
    }
    if (failed_) {
      PQclear(r);
      continue;
    }
    received_ = result(r);
    failed_ = !received_.ok();
  }
  return std::nullopt;
}

result connection::prepare(const std::string& name, const std::string& sql) {
  if (!c_) return result();
  return result(PQprepare(c_.get(), name.c_str(), sql.c_str(), 0, nullptr));
}

result connection::run_prepared(const std::string& name, const std::vector<param>& params) {
  if (!c_) return result();
  const auto values = values_of(params);
  return result(
      PQexecPrepared(c_.get(), name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0));
}

result connection::run_prepared_after(const std::vector<std::string>& first, const std::string& name,
                                      const std::vector<param>& params) {
  if (!c_) return result();
  PGconn* c = c_.get();
  if (PQenterPipelineMode(c) != 1) return result();
  const auto values = values_of(params);
  bool sent = true;
  for (const std::string& statement : first)
    sent = sent && PQsendQueryParams(c, statement.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
  sent = sent &&
         PQsendQueryPrepared(c, name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0) ==
           1 &&
         PQpipelineSync(c) == 1;
  // Each statement's results end with a null; the pipeline with a
  // PGRES_PIPELINE_SYNC. The answer is the first failure, or the last result.
  result answer;
  bool failed = false;
  const std::size_t statements = first.size() + 1;
  for (std::size_t statement = 0; sent && statement < statements; ++statement) {
    result last;
    while (PGresult* r = PQgetResult(c)) last = result(r);
    if (failed) continue;
    if (!last.ok() || statement + 1 == statements) {
      failed = !last.ok();
      answer = std::move(last);
    }
  }
  if (sent) {
    PGresult* sync = PQgetResult(c);
    const bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || PQexitPipelineMode(c) != 1) {
      // The connection is in a state nothing else can use.
      c_.reset();
      return result();
    }
  } else {
    c_.reset();
  }
  return answer;
}

bool connection::consume() { return c_ && PQconsumeInput(c_.get()) == 1; }

std::optional<std::string> connection::notification() {
  if (!c_) return std::nullopt;
  PGnotify* n = PQnotifies(c_.get());
  if (!n) return std::nullopt;
  std::string payload = n->extra ? n->extra : "";
  PQfreemem(n);
  return payload;
}

bool connection::alive() {
  if (broken()) return false;
  // A server that ends a session sends why, then closes: the first read
  // may take the message, the second meets the end of the stream.
  for (int read = 0; read < 2; ++read)
    if (PQconsumeInput(c_.get()) != 1) return false;
  return !broken();
}

} // namespace kinto::storage::pg
