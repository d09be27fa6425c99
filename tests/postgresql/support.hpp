// What the PostgreSQL tests share: the throw-away cluster the CTest fixture
// started (tests/postgresql/cluster), and a fresh database per test.
#pragma once

#include "harness.hpp"
#include "storage/postgresql.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace kintod_pg_test {

/// The libpq URI of the cluster's `postgres` database, from the state file
/// the fixture wrote (KINTOD_PG_STATE, or the path compiled in).
inline std::string cluster_url() {
  const char* from_env = std::getenv("KINTOD_PG_STATE");
  const std::string state = from_env && *from_env ? from_env : KINTOD_PG_STATE_FILE;
  std::ifstream in(state);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("url=", 0) == 0) return line.substr(4);
  throw std::runtime_error("no PostgreSQL cluster: " + state +
                           " names none (ctest starts one: the \"postgresql: start cluster\" fixture)");
}

/// `url` with its database name replaced by `name`.
inline std::string database_url(const std::string& url, const std::string& name) {
  const auto slash = url.find('/', url.find("://") + 3);
  const auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + name + (query == std::string::npos ? "" : url.substr(query));
}

/// A database of its own for one test, dropped at the end.
class scratch_database {
public:
  scratch_database() {
    admin_url_ = cluster_url();
    static std::atomic<int> serial{0};
    std::random_device random;
    name_ = "kintod_test_" + std::to_string(::getpid()) + "_" + std::to_string(serial++) + "_" +
            std::to_string(random() % 100000);
    std::string error;
    auto admin = kinto::storage::pg::connection::open(admin_url_, error);
    if (!admin) throw std::runtime_error("cannot reach the test cluster: " + error);
    auto made = admin->run("CREATE DATABASE " + name_);
    if (!made.ok()) throw std::runtime_error("CREATE DATABASE: " + made.error());
    url_ = database_url(admin_url_, name_);
  }
  ~scratch_database() {
    std::string error;
    if (auto admin = kinto::storage::pg::connection::open(admin_url_, error))
      (void)admin->run("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  scratch_database(const scratch_database&) = delete;
  scratch_database& operator=(const scratch_database&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  /// A connection to it; fails the test when there is none.
  kinto::storage::pg::connection connect() const {
    std::string error;
    auto c = kinto::storage::pg::connection::open(url_, error);
    if (!c) FAIL("cannot connect to " << url_ << ": " << error);
    return std::move(*c);
  }

private:
  std::string admin_url_, name_, url_;
};

/// Runs `sql` and requires it to succeed; its result.
inline kinto::storage::pg::result must(kinto::storage::pg::connection& c, const std::string& sql,
                                       const std::vector<kinto::storage::pg::param>& params = {}) {
  auto r = params.empty() ? c.run(sql) : c.run(sql, params);
  INFO(sql);
  REQUIRE(r.ok());
  return r;
}

/// The one value `sql` answers, as text ("" for NULL or no row).
inline std::string scalar(kinto::storage::pg::connection& c, const std::string& sql,
                          const std::vector<kinto::storage::pg::param>& params = {}) {
  auto r = must(c, sql, params);
  return r.rows() == 0 ? std::string() : std::string(r.text(0, 0));
}

/// A kintod storing its data and permissions in `db`, with `extra` settings.
inline kintod_test::kintod_options on_database(const scratch_database& db,
                                               const std::map<std::string, std::string>& extra = {}) {
  kintod_test::kintod_options options;
  options.settings = {
      {"kinto.storage_backend", "kinto.core.storage.postgresql"},
      {"kinto.storage_url", db.url()},
      {"kinto.permission_backend", "kinto.core.permission.postgresql"},
      {"kinto.permission_url", db.url()},
  };
  for (const auto& [name, value] : extra) options.settings[name] = value;
  return options;
}

} // namespace kintod_pg_test
