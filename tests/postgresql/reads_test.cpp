// The PostgreSQL engine's reads, in process: a snapshot told what a request
// will read (read_ahead) answers exactly what one reading object by object
// answers, for present, deleted and missing objects and ids that need
// quoting, list timestamps, and the groups of the caller's principals; the groups of
// several principals come in one answer; a snapshot whose session is lost
// says its reads failed.
#include "support.hpp"

#include "storage/postgresql_engine.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace kintod_pg_test;
using kinto::kind;
using kinto::list_key;
namespace storage = kinto::storage;
using storage::status;

namespace {

std::unique_ptr<storage::engine> open_engine(const scratch_database& db) {
  std::string error;
  storage::postgresql_options options;
  options.url = db.url();
  options.pool_size = 4;
  auto engine = storage::open_postgresql(options, error);
  INFO(error);
  REQUIRE(engine);
  return engine;
}

/// An object whose data is `{"id": id, "last_modified": ts}`.
storage::object object_at(const std::string& id, std::uint64_t ts, std::string permissions = {}) {
  storage::object o;
  o.last_modified = ts;
  o.data = "{\"id\":\"" + id + "\",\"last_modified\":" + std::to_string(ts) + "}";
  o.permissions = std::move(permissions);
  return o;
}

template <class Work> void write(storage::engine& engine, Work work) {
  std::unique_ptr<storage::write_transaction> txn;
  REQUIRE(engine.begin_write(txn) == status::ok);
  work(*txn);
  std::optional<status> committed;
  txn->commit([&](status s) { committed = s; });
  REQUIRE(committed == status::ok);
}

/// What a view answers about the object `id` of `list`, as one text.
std::string seen(const storage::view& v, const list_key& list, const std::string& id) {
  auto o = v.get(list, id);
  std::string text = o ? std::to_string(o->last_modified) + (o->deleted ? " deleted " : " ") + o->data + " " +
                           o->permissions
                       : "none";
  text += " | " + v.permissions(list.object_uri(id)).value_or("no permissions");
  return text;
}

const list_key buckets{"", kind::bucket};
const list_key collections{"/buckets/b", kind::collection};
const list_key records{"/buckets/b/collections/c", kind::record};

} // namespace

TEST_CASE("a snapshot told what it will read answers as one reading object by object", "[postgresql]") {
  scratch_database db;
  auto engine = open_engine(db);
  const std::string odd = "q\"uo\\te,{x}";
  write(*engine, [&](storage::writer& w) {
    REQUIRE(w.put(buckets, "b", object_at("b", 10, R"({"write": ["alice"]})"), std::nullopt) == status::ok);
    REQUIRE(w.put(collections, "c", object_at("c", 20, R"({"read": ["bob", "system.Everyone"]})"), std::nullopt) ==
            status::ok);
    REQUIRE(w.put(records, "r1", object_at("r1", 30, R"({"read": ["carol"]})"), std::nullopt) == status::ok);
    REQUIRE(w.put(records, "gone", object_at("gone", 31), std::nullopt) == status::ok);
    REQUIRE(w.put(records, odd, object_at("odd", 32, R"({"write": ["dave"]})"), std::nullopt) == status::ok);
    REQUIRE(w.put(records, "shared",
                  object_at("shared", 33,
                            R"({"write": ["zed", "alice", "system.Authenticated"], "read": ["bob"], )"
                            R"("collection:create": ["x\"y"], "group:create": ["carol", "ann"]})"),
                  std::nullopt) == status::ok);
  });
  write(*engine, [&](storage::writer& w) {
    storage::object tombstone;
    tombstone.last_modified = 40;
    tombstone.deleted = true;
    REQUIRE(w.put(records, "gone", tombstone, 31) == status::ok);
  });

  const std::vector<std::pair<list_key, std::string>> objects = {
    {buckets, "b"}, {collections, "c"}, {records, "r1"}, {records, "gone"}, {records, "never"}, {records, odd},
    {records, "shared"},
    {buckets, "other"}, {list_key{"/buckets/other/collections/x", kind::record}, "r1"}};
  for (const auto& [list, id] : objects) {
    INFO(list.object_uri(id));
    auto plain = engine->read();
    auto told = engine->read();
    REQUIRE(plain.valid());
    REQUIRE(told.valid());
    told.read_ahead({.list = list, .id = id, .stamped = &list});
    const std::string expected = seen(plain, list, id);
    CHECK(seen(told, list, id) == expected);
    CHECK(told.list_timestamp(list) == plain.list_timestamp(list));
    // And everything above it, as read ahead with it.
    if (auto owner = kinto::owner_of(list.parent)) {
      CHECK(seen(told, owner->list, owner->id) == seen(plain, owner->list, owner->id));
      if (auto top = kinto::owner_of(owner->list.parent))
        CHECK(seen(told, top->list, top->id) == seen(plain, top->list, top->id));
    }
  }

  auto plain = engine->read();
  CHECK(seen(plain, records, "r1") == R"(30 {"id":"r1","last_modified":30} {"read": ["carol"]} | {"read": ["carol"]})");
  CHECK(seen(plain, records, "gone").rfind("40 deleted", 0) == 0);
  CHECK(seen(plain, records, "never") == "none | no permissions");
  CHECK(seen(plain, records, odd).find(R"({"write": ["dave"]})") != std::string::npos);

  SECTION("what was read ahead is the snapshot's: later writes are not seen") {
    auto told = engine->read();
    told.read_ahead({.list = records, .id = "r1", .stamped = &records});
    const auto stamp = told.list_timestamp(records);
    write(*engine, [&](storage::writer& w) {
      REQUIRE(w.put(records, "r1", object_at("r1", 50), 30) == status::ok);
      REQUIRE(w.set_list_timestamp(records, 50) == status::ok);
    });
    CHECK(told.get(records, "r1").value_or(storage::object{}).last_modified == 30);
    CHECK(told.list_timestamp(records) == stamp);
    CHECK(stamp < engine->read().list_timestamp(records));
    CHECK(engine->read().get(records, "r1").value_or(storage::object{}).last_modified == 50);
  }

  SECTION("what is read after the read-ahead is one snapshot") {
    auto told = engine->read();
    told.read_ahead({.list = collections, .id = "c"});
    write(*engine, [&](storage::writer& w) {
      REQUIRE(w.put(records, "r1", object_at("r1", 60), 30) == status::ok);
      REQUIRE(w.put(records, "shared", object_at("shared", 61), 33) == status::ok);
    });
    const auto r1 = told.get(records, "r1").value_or(storage::object{}).last_modified;
    write(*engine, [&](storage::writer& w) {
      REQUIRE(w.put(records, "r1", object_at("r1", 70), 60) == status::ok);
      REQUIRE(w.put(records, "shared", object_at("shared", 71), 61) == status::ok);
    });
    const auto shared = told.get(records, "shared").value_or(storage::object{}).last_modified;
    CHECK(told.get(records, "r1").value_or(storage::object{}).last_modified == r1);
    CHECK(shared == r1 + 1);
  }
}

TEST_CASE("the groups of several principals come principal by principal, each group once, on PostgreSQL",
          "[postgresql]") {
  scratch_database db;
  auto engine = open_engine(db);
  write(*engine, [&](storage::writer& w) {
    REQUIRE(w.add_member("alice", "/buckets/b/groups/g2") == status::ok);
    REQUIRE(w.add_member("alice", "/buckets/b/groups/g1") == status::ok);
    REQUIRE(w.add_member("system.Authenticated", "/buckets/b/groups/g0") == status::ok);
    REQUIRE(w.add_member("system.Authenticated", "/buckets/b/groups/g1") == status::ok);
    REQUIRE(w.add_member("bob", "/buckets/b/groups/g9") == status::ok);
  });
  const std::string_view principals[] = {"alice", "system.Authenticated"};
  CHECK(engine->read().groups_of_any(principals) ==
        std::vector<std::string>{"/buckets/b/groups/g1", "/buckets/b/groups/g2", "/buckets/b/groups/g0"});
  const std::string_view odd[] = {"q\"uo\\te,{x}"};
  CHECK(engine->read().groups_of_any(odd).empty());

  SECTION("read ahead with a request's object, they are the same, and the snapshot's") {
    const list_key records{"/buckets/b/collections/c", kind::record};
    const auto before = engine->read().groups_of_any(principals);
    auto told = engine->read();
    told.read_ahead({.list = records, .id = "r", .members = principals});
    write(*engine, [&](storage::writer& w) {
      REQUIRE(w.add_member("alice", "/buckets/b/groups/g3") == status::ok);
    });
    CHECK(told.groups_of_any(principals) == before);
    CHECK(engine->read().groups_of_any(principals).size() == 4);

    auto lonely = engine->read();
    lonely.read_ahead({.list = records, .id = "r", .members = odd});
    CHECK(lonely.groups_of_any(odd).empty());
    // Members not read ahead are read when asked.
    const std::string_view bob[] = {"bob"};
    CHECK(lonely.groups_of_any(bob) == std::vector<std::string>{"/buckets/b/groups/g9"});
    auto anonymous = engine->read();
    anonymous.read_ahead({.list = records, .id = "r"});
    CHECK(anonymous.groups_of_any(principals).size() == 4);
  }
}

TEST_CASE("a snapshot whose session is lost after its read ahead says its reads failed", "[postgresql]") {
  scratch_database db;
  auto engine = open_engine(db);
  write(*engine, [](storage::writer& w) {
    REQUIRE(w.put(buckets, "b", object_at("b", 10), std::nullopt) == status::ok);
    REQUIRE(w.put(collections, "c", object_at("c", 11), std::nullopt) == status::ok);
    REQUIRE(w.put(records, "r1", object_at("r1", 12), std::nullopt) == status::ok);
    REQUIRE(w.put(records, "r2", object_at("r2", 13), std::nullopt) == status::ok);
  });
  storage::snapshot snap = engine->read();
  REQUIRE(snap.valid());
  snap.read_ahead({.list = records, .id = "r1"});
  REQUIRE(snap.get(records, "r1"));
  CHECK_FALSE(snap.failed());

  auto admin = db.connect();
  must(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND "
              "pid <> pg_backend_pid() AND backend_type = 'client backend'");
  // What was read ahead is still known; what was not cannot be read, and
  // its "not found" is not to be trusted.
  CHECK(snap.get(records, "r1"));
  CHECK_FALSE(snap.get(records, "r2"));
  CHECK(snap.failed());

  // The next snapshot opens a new session, and reads what is there.
  storage::snapshot again = engine->read();
  REQUIRE(again.valid());
  CHECK(again.get(records, "r2"));
  CHECK_FALSE(again.failed());
}
