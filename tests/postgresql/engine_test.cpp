// kintod serving from PostgreSQL: the rows it writes are upstream Kinto's
// and the rows upstream writes are served; a database of another schema
// version is refused; while the database is unreachable requests get 503
// and the heartbeat says so, and service resumes once it is back; a batch
// is one transaction. (The whole integration suite also runs on this
// engine: the tests labelled `postgresql`.)
#include "harness.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <map>
#include <string>

using namespace kintod_test;
using namespace kintod_pg_test;

namespace {

/// Runs kintod (to exit by itself) with the test settings and `settings`.
run_result run_with(const std::map<std::string, std::string>& settings) {
  temp_dir dir;
  auto all = default_settings(dir.path());
  for (const auto& [name, value] : settings) all[name] = value;
  const std::string ini = dir.path() + "/kinto.ini";
  write_file(ini, ini_text(all));
  return run_kintod({"--ini", ini, "--host", "127.0.0.1", "--port", "0"});
}

/// Runs `sql` on the test cluster's `postgres` database.
void on_cluster(const std::string& sql) {
  std::string error;
  auto admin = kinto::storage::pg::connection::open(cluster_url(), error);
  REQUIRE(admin);
  must(*admin, sql);
}

} // namespace

TEST_CASE("kintod writes upstream Kinto's rows and serves the rows upstream writes", "[postgresql]") {
  scratch_database db;
  kintod_process server(on_database(db));
  auto c = db.connect();
  create_collection(server, "b", "c");
  auto created = must(server.request("PUT", "/v1/buckets/b/collections/c/records/r1",
                                     R"({"data": {"title": "x"}, "permissions": {"read": ["system.Everyone"]}})",
                                     owner()),
                      201);
  const std::int64_t r1_modified = int_at(created, "data.last_modified");

  SECTION("an object is a row of objects, its data without id and last_modified") {
    CHECK(scalar(c, "SELECT data->>'title' FROM objects WHERE id = 'r1'") == "x");
    CHECK(scalar(c, "SELECT (data ? 'id' OR data ? 'last_modified')::text FROM objects WHERE id = 'r1'") == "false");
    CHECK(scalar(c, "SELECT parent_id || ' ' || resource_name || ' ' || deleted::text FROM objects WHERE id = 'r1'") ==
          "/buckets/b/collections/c record false");
    CHECK(scalar(c, "SELECT as_epoch(last_modified) FROM objects WHERE id = 'r1'") == std::to_string(r1_modified));
    CHECK(scalar(c, "SELECT parent_id || ' ' || resource_name FROM objects WHERE id = 'c'") == "/buckets/b collection");
    CHECK(scalar(c, "SELECT parent_id || ' ' || resource_name FROM objects WHERE id = 'b'") == " bucket");
  }
  SECTION("permissions are access control entries by object URI") {
    CHECK(scalar(c, "SELECT string_agg(principal, ',') FROM access_control_entries WHERE object_id = "
                    "'/buckets/b/collections/c/records/r1' AND permission = 'read'") == "system.Everyone");
    CHECK(scalar(c, "SELECT string_agg(principal, ',') FROM access_control_entries WHERE object_id = '/buckets/b' "
                    "AND permission = 'write'") == std::string(mat_id));
  }
  SECTION("group members are user principals, accounts are their own parents") {
    must(server.request("PUT", "/v1/buckets/b/groups/g",
                        R"({"data": {"members": [")" + std::string(alice_basic_id) + R"("]}})", owner()),
         201);
    CHECK(scalar(c, "SELECT principal FROM user_principals WHERE user_id = $1", {std::string(alice_basic_id)}) ==
          "/buckets/b/groups/g");
    must(server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "s3cret-enough"}})"), 201);
    CHECK(scalar(c, "SELECT parent_id || ' ' || resource_name FROM objects WHERE id = 'alice'") == "alice account");
    CHECK(server.request("GET", "/v1/accounts/alice", {}, auth("alice", "s3cret-enough")).status == 200);
  }
  SECTION("a deletion leaves upstream's tombstone") {
    must(server.request("DELETE", "/v1/buckets/b/collections/c/records/r1", {}, owner()), 200);
    CHECK(scalar(c, "SELECT deleted::text || ' ' || data::text FROM objects WHERE id = 'r1'") ==
          "true {\"deleted\": true}");
    CHECK(scalar(c, "SELECT count(*) FROM access_control_entries WHERE object_id LIKE '%/records/r1'") == "0");
  }
  SECTION("a row upstream wrote (the trigger stamps it) is served with its id and timestamp") {
    must(c, "INSERT INTO objects (id, parent_id, resource_name, data, deleted) VALUES "
            "('up', '/buckets/b/collections/c', 'record', '{\"n\": 2}', FALSE)");
    const std::string stamped = scalar(c, "SELECT as_epoch(last_modified) FROM objects WHERE id = 'up'");
    CHECK(std::stoll(stamped) > r1_modified);
    auto got = must(server.request("GET", "/v1/buckets/b/collections/c/records/up", {}, owner()), 200);
    CHECK(str_at(got, "data.id") == "up");
    CHECK(int_at(got, "data.n") == 2);
    CHECK(std::to_string(int_at(got, "data.last_modified")) == stamped);
    auto list = server.request("GET", "/v1/buckets/b/collections/c/records?_since=" + std::to_string(r1_modified), {},
                               owner());
    REQUIRE(list.status == 200);
    CHECK(std::to_string(etag_value(list)) == stamped);
    REQUIRE(at(list.json(), "data").as_array().size() == 1);
    // The next write of the list is stamped past it.
    auto next = must(server.request("POST", "/v1/buckets/b/collections/c/records", R"({"data": {}})", owner()), 201);
    CHECK(int_at(next, "data.last_modified") > std::stoll(stamped));
  }
}

TEST_CASE("kintod refuses a database of another schema version, and permissions elsewhere", "[postgresql]") {
  scratch_database db;
  {
    kintod_process first(on_database(db)); // creates the schema
  }
  auto c = db.connect();
  SECTION("another storage schema version") {
    must(c, "UPDATE metadata SET value = '25' WHERE name = 'storage_schema_version'");
    auto run = run_with(on_database(db).settings);
    INFO(run.output);
    CHECK(run.exit_status != 0);
    CHECK_THAT(run.output, Catch::Contains("storage schema version 25") && Catch::Contains("kintod migrate"));
  }
  SECTION("permissions in another database") {
    scratch_database other;
    auto run = run_with(on_database(db, {{"kinto.permission_url", other.url()}}).settings);
    INFO(run.output);
    CHECK(run.exit_status == 2);
    CHECK_THAT(run.output, Catch::Contains("kinto.permission_url = kinto.storage_url"));
  }
}

TEST_CASE("while the database is unreachable requests get 503 errno 201, and service resumes after", "[postgresql]") {
  scratch_database db;
  kintod_process server(on_database(db));
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/r", R"({"data": {"v": 1}})", owner()), 201);

  on_cluster("ALTER DATABASE " + db.name() + " ALLOW_CONNECTIONS false");
  on_cluster("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db.name() + "'");
  for (const auto& [method, body] : {std::pair<std::string, std::string>{"GET", ""}, {"PUT", R"({"data": {"v": 2}})"}}) {
    auto r = server.request(method, "/v1/buckets/b/collections/c/records/r", body, owner());
    CHECK_THAT(r, is_kinto_error(503, 201));
    CHECK(!r.header("Retry-After").empty());
  }
  auto heartbeat = server.request("GET", "/v1/__heartbeat__");
  CHECK(heartbeat.status == 503);
  CHECK(at(heartbeat.json(), "storage").is_bool());
  CHECK_FALSE(at(heartbeat.json(), "storage").as_bool());

  on_cluster("ALTER DATABASE " + db.name() + " ALLOW_CONNECTIONS true");
  auto read = server.request("GET", "/v1/buckets/b/collections/c/records/r", {}, owner());
  REQUIRE(read.status == 200);
  CHECK(int_at(read.json(), "data.v") == 1);
  CHECK(server.request("PUT", "/v1/buckets/b/collections/c/records/r", R"({"data": {"v": 3}})", owner()).status == 200);
  CHECK(int_at(must(server.request("GET", "/v1/buckets/b/collections/c/records/r", {}, owner()), 200), "data.v") == 3);
  CHECK(server.request("GET", "/v1/__heartbeat__").status == 200);
}

TEST_CASE("a request whose database session is lost while it reads gets 503 errno 201, never a refusal",
          "[postgresql]") {
  scratch_database db;
  kintod_process server(on_database(db));
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/r", R"({"data": {"v": 1}})", owner()), 201);

  struct attempt {
    std::string method, path, body;
  };
  auto watcher = db.connect(); // outside any transaction: each look at pg_stat_activity is fresh
  for (const attempt& a : {attempt{"GET", "/v1/buckets/b/collections/c/records/r", ""},
                           attempt{"GET", "/v1/buckets/b/collections/c/records", ""},
                           attempt{"PUT", "/v1/buckets/b/collections/c/records/r", R"({"data": {"v": 2}})"}}) {
    INFO(a.method << " " << a.path);
    // The request's reads wait for this lock; its sessions are ended
    // while they wait, and no new one may open.
    auto locker = db.connect();
    const std::string locker_pid = scalar(locker, "SELECT pg_backend_pid()");
    must(locker, "BEGIN; LOCK TABLE objects IN ACCESS EXCLUSIVE MODE");
    auto pending = std::async(std::launch::async, [&] { return server.request(a.method, a.path, a.body, owner()); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (scalar(watcher, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                           "wait_event_type = 'Lock'") == "0") {
      if (pending.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        const auto early = pending.get();
        FAIL("answered before it read: " << early.status << " " << early.body);
      }
      REQUIRE(std::chrono::steady_clock::now() < deadline);
    }
    on_cluster("ALTER DATABASE " + db.name() + " ALLOW_CONNECTIONS false");
    must(watcher, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND "
                  "pid NOT IN (pg_backend_pid(), " + locker_pid + ") AND backend_type = 'client backend'");
    must(locker, "ROLLBACK");
    CHECK_THAT(pending.get(), is_kinto_error(503, 201));
    on_cluster("ALTER DATABASE " + db.name() + " ALLOW_CONNECTIONS true");
  }
  // Nothing was written, and the next requests are served.
  CHECK(int_at(must(server.request("GET", "/v1/buckets/b/collections/c/records/r", {}, owner()), 200), "data.v") == 1);
  CHECK(server.request("GET", "/v1/buckets/b/collections/c/records", {}, owner()).status == 200);
}

TEST_CASE("a batch is one PostgreSQL transaction: a write the database refuses drops the batch", "[postgresql]") {
  scratch_database db;
  kintod_process server(on_database(db));
  create_collection(server, "b", "c");
  // PostgreSQL's JSONB cannot hold U+0000: storing it fails in the database.
  auto r = server.request("POST", "/v1/batch",
                          R"({"defaults": {"method": "PUT"},
                              "requests": [{"path": "/buckets/b/collections/c/records/kept", "body": {"data": {}}},
                                           {"path": "/buckets/b/collections/c/records/nul", "body": {"data": {"s": "a\u0000b"}}}]})",
                          owner());
  CHECK_THAT(r, is_kinto_error(503, 201));
  CHECK(server.request("GET", "/v1/buckets/b/collections/c/records/kept", {}, owner()).status == 404);
  CHECK(server.request("GET", "/v1/buckets/b/collections/c/records/nul", {}, owner()).status == 404);
  auto c = db.connect();
  CHECK(scalar(c, "SELECT count(*) FROM objects WHERE resource_name = 'record'") == "0");
}
