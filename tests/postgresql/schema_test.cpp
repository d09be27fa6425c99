// The PostgreSQL schema kintod creates and upgrades (storage/postgresql_schema.hpp,
// `kintod migrate`), against a real throw-away cluster: upstream Kinto's
// tables, types, collations, indexes, functions, trigger and versions.
#include "harness.hpp"
#include "support.hpp"

#include "storage/postgresql_schema.hpp"

#include <filesystem>
#include <fstream>

using kinto::storage::migrate_postgresql;
using kinto::storage::postgresql_migration;
using kintod_pg_test::must;
using kintod_pg_test::scalar;
using kintod_pg_test::scratch_database;

namespace {

postgresql_migration migration_of(const std::string& storage_url, const std::string& permission_url,
                                  std::vector<std::string>* log = nullptr) {
  postgresql_migration m;
  m.storage_url = storage_url;
  m.permission_url = permission_url;
  if (log) m.log = [log](const std::string& line) { log->push_back(line); };
  return m;
}

bool migrate(const std::string& url, std::string& error, std::vector<std::string>* log = nullptr) {
  return migrate_postgresql(migration_of(url, url, log), error);
}

/// "name type collation not-null" of each column of `table`, in order.
std::vector<std::string> columns_of(kinto::storage::pg::connection& c, const std::string& table) {
  auto r = must(c,
                "SELECT column_name || ' ' || data_type || ' ' || COALESCE(collation_name, '-') || ' ' || is_nullable "
                "FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
                {table});
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0));
  return out;
}

std::vector<std::string> indexes_of(kinto::storage::pg::connection& c, const std::string& table) {
  auto r = must(c, "SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname", {table});
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0));
  return out;
}

bool has_table(kinto::storage::pg::connection& c, const std::string& table) {
  return scalar(c, "SELECT count(*) FROM information_schema.tables WHERE table_name = $1", {table}) == "1";
}

} // namespace

TEST_CASE("migrate creates upstream Kinto's storage schema, version 26", "[postgresql]") {
  scratch_database db;
  std::string error;
  std::vector<std::string> log;
  REQUIRE(migrate(db.url(), error, &log));
  CHECK(error.empty());
  auto c = db.connect();

  CHECK(columns_of(c, "objects") == std::vector<std::string>{
                                        "id text C NO",
                                        "parent_id text C NO",
                                        "resource_name text C NO",
                                        "last_modified timestamp without time zone - NO",
                                        "data jsonb - NO",
                                        "deleted boolean - NO",
                                    });
  CHECK(columns_of(c, "timestamps") == std::vector<std::string>{
                                           "parent_id text C NO",
                                           "resource_name text C NO",
                                           "last_modified timestamp without time zone - NO",
                                       });
  CHECK(columns_of(c, "metadata") == std::vector<std::string>{
                                         "name character varying - NO",
                                         "value character varying - NO",
                                     });
  CHECK(indexes_of(c, "objects") == std::vector<std::string>{
                                        "idx_objects_history_userid_and_resourcename",
                                        "idx_objects_last_modified_epoch",
                                        "idx_objects_parent_id_record_last_modified",
                                        "idx_objects_parent_id_resource_name_last_modified",
                                        "idx_objects_resource_name_parent_id_deleted",
                                        "objects_pkey",
                                    });
  CHECK(scalar(c, "SELECT indexdef FROM pg_indexes WHERE indexname = 'objects_pkey'")
            .find("(id, parent_id, resource_name)") != std::string::npos);
  CHECK(scalar(c, "SELECT indexdef FROM pg_indexes WHERE indexname = "
                  "'idx_objects_parent_id_resource_name_last_modified'")
            .find("CREATE UNIQUE INDEX") == 0);
  CHECK(scalar(c, "SELECT tgname FROM pg_trigger WHERE tgrelid = 'objects'::regclass AND NOT tgisinternal") ==
        "tgr_objects_last_modified");
  CHECK(scalar(c, "SELECT value FROM metadata WHERE name = 'storage_schema_version'") == "26");
  CHECK(scalar(c, "SELECT count(*) FROM metadata WHERE name = 'created_at'") == "1");

  CHECK(columns_of(c, "access_control_entries") == std::vector<std::string>{
                                                       "object_id text C NO",
                                                       "permission text - NO",
                                                       "principal text - NO",
                                                   });
  CHECK(columns_of(c, "user_principals") == std::vector<std::string>{
                                                "user_id text C NO",
                                                "principal text - NO",
                                            });
  CHECK(indexes_of(c, "access_control_entries") == std::vector<std::string>{
                                                       "access_control_entries_pkey",
                                                       "idx_access_control_entries_object_id",
                                                       "idx_access_control_entries_permission",
                                                       "idx_access_control_entries_principal",
                                                   });
  CHECK(scalar(c, "SELECT value FROM metadata WHERE name = 'permission_schema_version'") == "2");

  REQUIRE(log.size() == 4);
  CHECK(log[1] == "PostgreSQL storage schema: created (version 26)");
  CHECK(log[3] == "PostgreSQL permission schema: created (version 2)");
}

TEST_CASE("migrate twice leaves the schema as it was", "[postgresql]") {
  scratch_database db;
  std::string error;
  REQUIRE(migrate(db.url(), error));
  std::vector<std::string> log;
  REQUIRE(migrate(db.url(), error, &log));
  CHECK(log == std::vector<std::string>{"PostgreSQL storage schema: version 26, up to date",
                                        "PostgreSQL permission schema: version 2, up to date"});
  auto c = db.connect();
  CHECK(scalar(c, "SELECT count(*) FROM metadata") == "3");
  std::optional<int> version;
  REQUIRE(kinto::storage::postgresql_schema_version(db.url(), false, version, error));
  CHECK(version == 26);
  REQUIRE(kinto::storage::postgresql_schema_version(db.url(), true, version, error));
  CHECK(version == 2);
}

TEST_CASE("a dry run names what it would create and writes nothing", "[postgresql]") {
  scratch_database db;
  std::string error;
  std::vector<std::string> log;
  auto m = migration_of(db.url(), db.url(), &log);
  m.dry_run = true;
  REQUIRE(migrate_postgresql(m, error));
  CHECK(log == std::vector<std::string>{"PostgreSQL storage schema: would be created at version 26",
                                        "PostgreSQL permission schema: would be created at version 2"});
  auto c = db.connect();
  CHECK_FALSE(has_table(c, "objects"));
  CHECK_FALSE(has_table(c, "metadata"));
  std::optional<int> version{7};
  REQUIRE(kinto::storage::postgresql_schema_version(db.url(), false, version, error));
  CHECK_FALSE(version.has_value());
}

TEST_CASE("the schema's functions and trigger keep upstream's timestamps", "[postgresql]") {
  scratch_database db;
  std::string error;
  REQUIRE(migrate(db.url(), error));
  auto c = db.connect();
  must(c, "SET TIME ZONE 'UTC'");

  SECTION("as_epoch and from_epoch convert milliseconds both ways") {
    for (const char* ms : {"0", "1", "1700000000123", "4102444800999"})
      CHECK(scalar(c, std::string("SELECT as_epoch(from_epoch(") + ms + "))") == ms);
    CHECK(scalar(c, "SELECT from_epoch(1700000000123)::TEXT") == "2023-11-14 22:13:20.123");
  }

  SECTION("a row without last_modified gets the clock's, past the list's newest") {
    must(c, "INSERT INTO objects (id, parent_id, resource_name, last_modified, data, deleted) "
            "VALUES ('a', '/buckets/b/collections/c', 'record', NULL, '{}', FALSE)");
    const auto first = std::stoll(scalar(c, "SELECT as_epoch(last_modified) FROM objects WHERE id = 'a'"));
    CHECK(first > 1700000000000);
    const auto db_now = std::stoll(scalar(c, "SELECT as_epoch(clock_timestamp()::TIMESTAMP)"));
    CHECK(first <= db_now);
  }

  SECTION("a row sent with the list's newest timestamp is bumped one millisecond past it") {
    // Far in the future, so that the clock cannot be later.
    const std::string future = "4102444800000";
    must(c, "INSERT INTO objects VALUES ('a', '/buckets/b/collections/c', 'record', from_epoch(" + future +
                "), '{}', FALSE)");
    must(c, "INSERT INTO objects VALUES ('b', '/buckets/b/collections/c', 'record', from_epoch(" + future +
                "), '{}', FALSE)");
    CHECK(scalar(c, "SELECT as_epoch(last_modified) FROM objects WHERE id = 'b'") == "4102444800001");
    // Another list is not affected.
    must(c, "INSERT INTO objects VALUES ('a', '/buckets/b/collections/d', 'record', from_epoch(" + future +
                "), '{}', FALSE)");
    CHECK(scalar(c, "SELECT as_epoch(last_modified) FROM objects WHERE parent_id = '/buckets/b/collections/d'") ==
          future);
  }

  SECTION("a list's kept timestamp counts as its newest") {
    must(c, "INSERT INTO timestamps VALUES ('/buckets/b/collections/c', 'record', from_epoch(4102444800000))");
    must(c, "INSERT INTO objects VALUES ('a', '/buckets/b/collections/c', 'record', NULL, '{}', FALSE)");
    CHECK(scalar(c, "SELECT as_epoch(last_modified) FROM objects WHERE id = 'a'") == "4102444800001");
  }

  SECTION("a timestamp the writer chose past the newest is kept") {
    must(c, "INSERT INTO objects VALUES ('a', '/buckets/b/collections/c', 'record', from_epoch(4102444800000), "
            "'{}', FALSE)");
    must(c, "INSERT INTO objects VALUES ('b', '/buckets/b/collections/c', 'record', from_epoch(4102444800500), "
            "'{}', FALSE)");
    CHECK(scalar(c, "SELECT as_epoch(last_modified) FROM objects WHERE id = 'b'") == "4102444800500");
  }

  SECTION("two objects of one list cannot share a timestamp") {
    must(c, "INSERT INTO objects VALUES ('a', '/buckets/b/collections/c', 'record', from_epoch(4102444800000), "
            "'{}', FALSE)");
    must(c, "INSERT INTO objects VALUES ('b', '/buckets/b/collections/c', 'record', from_epoch(4102444800500), "
            "'{}', FALSE)");
    auto clash = c.run("UPDATE objects SET last_modified = from_epoch(4102444800000) WHERE id = 'b'");
    CHECK_FALSE(clash.ok());
    CHECK(clash.sqlstate() == "23505");
  }
}

TEST_CASE("a permission schema of version 1 is brought to version 2", "[postgresql]") {
  scratch_database db;
  auto c = db.connect();
  // Version 1: the tables as first released, no collation, no version row.
  must(c, "CREATE TABLE user_principals (user_id TEXT, principal TEXT, PRIMARY KEY (user_id, principal))");
  must(c, "CREATE TABLE access_control_entries (object_id TEXT, permission TEXT, principal TEXT, "
          "PRIMARY KEY (object_id, permission, principal))");
  must(c, "INSERT INTO access_control_entries VALUES ('/buckets/b', 'write', 'account:alice')");
  must(c, "INSERT INTO user_principals VALUES ('account:alice', '/buckets/b/groups/g')");

  std::string error;
  std::optional<int> version;
  REQUIRE(kinto::storage::postgresql_schema_version(db.url(), true, version, error));
  CHECK(version == 1);

  std::vector<std::string> log;
  REQUIRE(migrate(db.url(), error, &log));
  CHECK(log.back() == "PostgreSQL permission schema: migrated to version 2");
  CHECK(scalar(c, "SELECT value FROM metadata WHERE name = 'permission_schema_version'") == "2");
  CHECK(columns_of(c, "access_control_entries").front() == "object_id text C NO");
  CHECK(columns_of(c, "user_principals").front() == "user_id text C NO");
  CHECK(scalar(c, "SELECT principal FROM access_control_entries WHERE object_id = '/buckets/b'") == "account:alice");
  CHECK(scalar(c, "SELECT principal FROM user_principals") == "/buckets/b/groups/g");
  // The storage schema, absent, was created beside it.
  CHECK(scalar(c, "SELECT value FROM metadata WHERE name = 'storage_schema_version'") == "26");
}

TEST_CASE("a storage schema older or newer than 26 is refused untouched", "[postgresql]") {
  scratch_database db;
  auto c = db.connect();
  must(c, "CREATE TABLE objects (id TEXT, parent_id TEXT, resource_name TEXT)");
  must(c, "CREATE TABLE metadata (name VARCHAR(128) NOT NULL, value VARCHAR(512) NOT NULL)");
  std::string expected;
  SECTION("older: upstream's kinto migrate brings it to 26") {
    must(c, "INSERT INTO metadata VALUES ('storage_schema_version', '24')");
    expected = "is at version 24: kintod upgrades none older than 26; upgrade it with upstream Kinto's `kinto "
               "migrate` first";
  }
  SECTION("without a version row") {
    expected = "is at version 0";
  }
  SECTION("newer: a newer kintod knows it") {
    must(c, "INSERT INTO metadata VALUES ('storage_schema_version', '27')");
    expected = "is at version 27, newer than this kintod's (26)";
  }
  std::string error;
  CHECK_FALSE(migrate(db.url(), error));
  CHECK_THAT(error, Catch::Contains("PostgreSQL storage schema " + expected));
  // Nothing was written: the permission schema, after it, was not created either.
  CHECK_FALSE(has_table(c, "access_control_entries"));
  CHECK(columns_of(c, "objects").size() == 3);
}

TEST_CASE("storage and permissions may live in two databases", "[postgresql]") {
  scratch_database storage_db, permission_db;
  std::string error;
  REQUIRE(migrate_postgresql(migration_of(storage_db.url(), permission_db.url()), error));
  auto s = storage_db.connect();
  auto p = permission_db.connect();
  CHECK(has_table(s, "objects"));
  CHECK(has_table(s, "timestamps"));
  CHECK_FALSE(has_table(s, "access_control_entries"));
  CHECK(has_table(p, "access_control_entries"));
  CHECK(has_table(p, "user_principals"));
  CHECK_FALSE(has_table(p, "objects"));
  CHECK(scalar(s, "SELECT string_agg(name, ',' ORDER BY name) FROM metadata") == "created_at,storage_schema_version");
  CHECK(scalar(p, "SELECT string_agg(name, ',' ORDER BY name) FROM metadata") == "permission_schema_version");
}

TEST_CASE("migrate says why when the database cannot be reached", "[postgresql]") {
  scratch_database db;
  std::string error;
  CHECK_FALSE(migrate(kintod_pg_test::database_url(db.url(), "no_such_database"), error));
  CHECK_THAT(error, Catch::Contains("storage database: ") && Catch::Contains("no_such_database"));
}

// ---- kintod migrate --------------------------------------------------------------

namespace {

std::string write_ini(const kintod_test::temp_dir& dir, const std::string& settings) {
  const auto path = dir.path() + "/kinto.ini";
  std::ofstream(path) << "[app:main]\n" << settings;
  return path;
}

} // namespace

TEST_CASE("kintod migrate --ini creates the PostgreSQL schema, then finds it up to date", "[postgresql]") {
  scratch_database db;
  kintod_test::temp_dir dir;
  const auto ini = write_ini(dir, "kinto.storage_backend = kinto.core.storage.postgresql\n"
                                  "kinto.storage_url = " +
                                      db.url() +
                                      "\n"
                                      "kinto.permission_backend = kinto.core.permission.postgresql\n"
                                      "kinto.permission_url = " +
                                      db.url() + "\n");
  auto dry = kintod_test::run_kintod({"migrate", "--ini", ini, "--dry-run"});
  INFO(dry.output);
  CHECK(dry.exit_status == 0);
  CHECK_THAT(dry.output, Catch::Contains("PostgreSQL storage schema: would be created at version 26"));
  auto c = db.connect();
  CHECK_FALSE(has_table(c, "objects"));

  auto first = kintod_test::run_kintod({"migrate", "--ini", ini});
  INFO(first.output);
  CHECK(first.exit_status == 0);
  CHECK_THAT(first.output, Catch::Contains("PostgreSQL storage schema: created (version 26)"));
  CHECK_THAT(first.output, Catch::Contains("PostgreSQL permission schema: created (version 2)"));
  CHECK(has_table(c, "objects"));

  auto second = kintod_test::run_kintod({"migrate", "--ini", ini});
  INFO(second.output);
  CHECK(second.exit_status == 0);
  CHECK_THAT(second.output, Catch::Contains("PostgreSQL storage schema: version 26, up to date"));
}

TEST_CASE("kintod migrate fails, saying why, on a schema it cannot upgrade", "[postgresql]") {
  scratch_database db;
  auto c = db.connect();
  must(c, "CREATE TABLE records (id TEXT)");
  kintod_test::temp_dir dir;
  const auto ini = write_ini(dir, "kinto.storage_backend = kinto.core.storage.postgresql\n"
                                  "kinto.storage_url = " +
                                      db.url() + "\n");
  auto run = kintod_test::run_kintod({"migrate", "--ini", ini});
  INFO(run.output);
  CHECK(run.exit_status == 1);
  CHECK_THAT(run.output, Catch::Contains("kinto migrate"));
  CHECK_FALSE(has_table(c, "objects"));
}

TEST_CASE("kintod migrate on the LMDB backend opens and upgrades its data directory", "[postgresql]") {
  kintod_test::temp_dir dir;
  const auto data = dir.path() + "/data";
  const auto ini = write_ini(dir, "kinto.storage_backend = lmdb\nkinto.storage_url = " + data + "\n");
  auto run = kintod_test::run_kintod({"migrate", "--ini", ini});
  INFO(run.output);
  CHECK(run.exit_status == 0);
  CHECK_THAT(run.output, Catch::Contains("up to date"));
  CHECK(std::filesystem::exists(data + "/data.mdb"));
}
