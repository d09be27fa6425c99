// bench/pg-ceiling against the throw-away cluster: a short run reports the
// SELECTs and INSERTs it made, leaves no rows behind, and refuses bad
// arguments.
#include "support.hpp"

#include "base/json.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace {

struct program_run {
  int exit_code = -1;
  std::string out;
};

/// Runs `command` through the shell, stdout captured, stderr to the log.
program_run run_shell(const std::string& command) {
  program_run r;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) r.out.append(buffer, n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

double number_at(const kinto::json::value& v, std::string_view object, std::string_view key) {
  const auto* o = v.find(object);
  REQUIRE(o != nullptr);
  const auto* n = o->find(key);
  REQUIRE(n != nullptr);
  return n->as_double();
}

} // namespace

TEST_CASE("pg-ceiling reports the primary-key SELECTs and durable INSERTs it made", "[postgresql]") {
  kintod_pg_test::scratch_database db;
  const auto r = run_shell(std::string(PG_CEILING) + " --url " + quoted(db.url()) +
                           " --connections 4 --duration 1 --warmup 0 --records 50 --json");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  std::string error;
  const auto v = kinto::json::parse(r.out.substr(0, r.out.find('\n')), error);
  REQUIRE(v.has_value());
  CHECK(v->find("connections")->as_double() == 4);
  CHECK(v->find("synchronous_commit")->as_string() == "on");
  CHECK(number_at(*v, "select", "done") > 0);
  CHECK(number_at(*v, "insert", "done") > 0);
  CHECK(number_at(*v, "insert", "p99_ms") >= number_at(*v, "insert", "p50_ms"));
  // Its rows are gone; the schema it created stays.
  auto c = db.connect();
  CHECK(kintod_pg_test::scalar(c, "SELECT count(*) FROM objects") == "0");
  CHECK(kintod_pg_test::scalar(c, "SELECT value FROM metadata WHERE name = 'storage_schema_version'") == "26");
}

TEST_CASE("pg-ceiling refuses bad arguments with exit code 2, an unreachable database with 1", "[postgresql]") {
  CHECK(run_shell(std::string(PG_CEILING) + " 2>/dev/null").exit_code == 2);
  CHECK(run_shell(std::string(PG_CEILING) + " --url x --connections 0 2>/dev/null").exit_code == 2);
  CHECK(run_shell(std::string(PG_CEILING) + " --url x --duration 2.5 2>/dev/null").exit_code == 2);
  CHECK(run_shell(std::string(PG_CEILING) + " --url x --verbose 2>/dev/null").exit_code == 2);
  kintod_pg_test::scratch_database db;
  CHECK(run_shell(std::string(PG_CEILING) + " --url " +
                  quoted(kintod_pg_test::database_url(db.url(), "no_such_database")) + " 2>/dev/null")
            .exit_code == 1);
}
