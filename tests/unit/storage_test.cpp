// Unit tests of storage/: the engine interface as LMDB implements it, its key
// layout and typed operations.
#include "base/crypto.hpp"
#include "base/json.hpp"
#include "storage/lmdb.hpp"
#include "storage/lmdb_engine.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iterator>
#include <map>

using namespace kinto;
using storage::object;
using storage::status;

namespace {

/// Commits `txn` and returns what its `done` was called with, which LMDB
/// does before commit() returns.
status commit(storage::write_transaction& txn) {
  std::optional<status> committed;
  txn.commit([&](status s) { committed = s; });
  REQUIRE(committed);
  return *committed;
}

std::unique_ptr<storage::write_transaction> begin(storage::engine& engine) {
  std::unique_ptr<storage::write_transaction> txn;
  REQUIRE(engine.begin_write(txn) == status::ok);
  REQUIRE(txn);
  return txn;
}

struct fixture {
  test::temp_dir dir;
  std::unique_ptr<storage::engine> engine;
  explicit fixture(std::size_t map_size = std::size_t(1) << 26) {
    std::string error;
    engine = storage::open_lmdb({dir.path(), map_size, 64}, error);
    REQUIRE(engine);
  }
  /// Runs `work` in a committed write transaction.
  template <class F> void write(F work) {
    auto txn = begin(*engine);
    work(*txn);
    REQUIRE(commit(*txn) == status::ok);
  }
};

const list_key records{"/buckets/b/collections/c", kind::record};

std::vector<std::string> ids_newest_first(const storage::view& v, const list_key& list, std::uint64_t after = 0,
                                          std::uint64_t before = 0) {
  std::vector<std::string> ids;
  v.walk(list, after, before, true, [&](const storage::change& c) {
    ids.emplace_back(c.id);
    return true;
  });
  return ids;
}

} // namespace

TEST_CASE("put then get returns the same object") {
  fixture f;
  f.write([](storage::writer& b) { REQUIRE(b.put(records, "r1", object{10, false, R"({"a":1})"}, std::nullopt) == status::ok); });
  auto snap = f.engine->read();
  auto got = snap.get(records, "r1");
  REQUIRE(got);
  CHECK(got->last_modified == 10);
  CHECK_FALSE(got->deleted);
  CHECK(got->data == R"({"a":1})");
  CHECK_FALSE(snap.get(records, "r2"));
  CHECK_FALSE(snap.get(list_key{"/buckets/b/collections/other", kind::record}, "r1"));
}

TEST_CASE("the change index lists objects newest first and moves on update") {
  fixture f;
  f.write([](storage::writer& b) {
    REQUIRE(b.put(records, "a", object{1, false, "{}"}, std::nullopt) == status::ok);
    REQUIRE(b.put(records, "b", object{2, false, "{}"}, std::nullopt) == status::ok);
    REQUIRE(b.put(records, "c", object{3, false, "{}"}, std::nullopt) == status::ok);
  });
  CHECK(ids_newest_first(f.engine->read(), records) == std::vector<std::string>{"c", "b", "a"});
  f.write([](storage::writer& b) { REQUIRE(b.put(records, "a", object{4, false, "{}"}, 1) == status::ok); });
  auto snap = f.engine->read();
  CHECK(ids_newest_first(snap, records) == std::vector<std::string>{"a", "c", "b"});
  SECTION("bounds are strict") {
    CHECK(ids_newest_first(snap, records, 2, 0) == std::vector<std::string>{"a", "c"});
    CHECK(ids_newest_first(snap, records, 0, 3) == std::vector<std::string>{"b"});
  }
  SECTION("other lists are not visited") {
    CHECK(ids_newest_first(snap, list_key{"/buckets/b/collections/c2", kind::record}).empty());
    CHECK(ids_newest_first(snap, list_key{"/buckets/b", kind::collection}).empty());
  }
}

TEST_CASE("a timestamp already used in the list is a conflict that writes nothing") {
  fixture f;
  f.write([](storage::writer& b) {
    REQUIRE(b.put(records, "a", object{5, false, R"({"v":1})"}, std::nullopt) == status::ok);
    CHECK(b.put(records, "b", object{5, false, R"({"v":2})"}, std::nullopt) == status::conflict);
  });
  auto snap = f.engine->read();
  CHECK_FALSE(snap.get(records, "b"));
  CHECK(ids_newest_first(snap, records) == std::vector<std::string>{"a"});
}

TEST_CASE("a write planned on a version that is not the stored one is stale and writes nothing") {
  fixture f;
  f.write([](storage::writer& b) { REQUIRE(b.put(records, "a", object{1, false, R"({"v":1})"}, std::nullopt) == status::ok); });
  // Planned on version 2, which never became durable (e.g. refused: map full).
  f.write([](storage::writer& b) { CHECK(b.put(records, "a", object{3, false, R"({"v":3})"}, 2) == status::stale); });
  // Planned on nothing stored, while version 1 is.
  f.write([](storage::writer& b) { CHECK(b.put(records, "a", object{3, false, R"({"v":3})"}, std::nullopt) == status::stale); });
  auto snap = f.engine->read();
  CHECK(snap.get(records, "a")->last_modified == 1);
  CHECK(ids_newest_first(snap, records) == std::vector<std::string>{"a"});
  // Planned on the stored version: the change entry moves, one entry only.
  f.write([](storage::writer& b) { REQUIRE(b.put(records, "a", object{4, false, R"({"v":4})"}, 1) == status::ok); });
  CHECK(ids_newest_first(f.engine->read(), records) == std::vector<std::string>{"a"});
  CHECK(ids_newest_first(f.engine->read(), records, 3) == std::vector<std::string>{"a"});
  CHECK(ids_newest_first(f.engine->read(), records, 0, 4).empty());
}

TEST_CASE("tombstones are kept and flagged") {
  fixture f;
  f.write([](storage::writer& b) {
    REQUIRE(b.put(records, "a", object{1, false, "{}"}, std::nullopt) == status::ok);
    REQUIRE(b.put(records, "a", object{2, true, ""}, 1) == status::ok);
  });
  auto snap = f.engine->read();
  auto got = snap.get(records, "a");
  REQUIRE(got);
  CHECK(got->deleted);
  CHECK(got->last_modified == 2);
  bool seen_deleted = false;
  snap.walk(records, 0, 0, true, [&](const storage::change& c) {
    seen_deleted = c.deleted;
    return true;
  });
  CHECK(seen_deleted);
}

TEST_CASE("list timestamps are stored per list, permissions with their object") {
  fixture f;
  const list_key buckets{"", kind::bucket};
  CHECK_FALSE(f.engine->read().list_timestamp(records));
  f.write([&](storage::writer& b) {
    REQUIRE(b.set_list_timestamp(records, 42) == status::ok);
    REQUIRE(b.put(buckets, "b", object{7, false, R"({"id":"b"})", R"({"write":["u"]})"}, std::nullopt) == status::ok);
  });
  auto snap = f.engine->read();
  CHECK(snap.list_timestamp(records) == 42u);
  CHECK_FALSE(snap.list_timestamp(list_key{"/buckets/b", kind::collection}));
  CHECK(snap.permissions("/buckets/b") == std::string(R"({"write":["u"]})"));
  auto got = snap.get(buckets, "b");
  REQUIRE(got);
  CHECK(got->data == R"({"id":"b"})");
  CHECK(got->permissions == R"({"write":["u"]})");
  CHECK_FALSE(snap.permissions("/buckets/other"));
  SECTION("an update without permissions drops them") {
    f.write([&](storage::writer& b) { REQUIRE(b.put(buckets, "b", object{8, false, "{}", "{}"}, 7) == status::ok); });
    CHECK_FALSE(f.engine->read().permissions("/buckets/b"));
  }
  SECTION("a tombstone has none") {
    f.write([&](storage::writer& b) {
      REQUIRE(b.put(buckets, "b", object{8, true, "", R"({"write":["u"]})"}, 7) == status::ok);
    });
    CHECK_FALSE(f.engine->read().permissions("/buckets/b"));
    CHECK(f.engine->read().get(buckets, "b")->permissions.empty());
  }
}

TEST_CASE("memberships give the groups of a principal") {
  fixture f;
  f.write([](storage::writer& b) {
    REQUIRE(b.add_member("alice", "/buckets/b/groups/g1") == status::ok);
    REQUIRE(b.add_member("alice", "/buckets/b/groups/g2") == status::ok);
    REQUIRE(b.add_member("alicia", "/buckets/b/groups/g3") == status::ok);
  });
  CHECK(f.engine->read().groups_of("alice") == std::vector<std::string>{"/buckets/b/groups/g1", "/buckets/b/groups/g2"});
  f.write([](storage::writer& b) { REQUIRE(b.remove_member("alice", "/buckets/b/groups/g1") == status::ok); });
  CHECK(f.engine->read().groups_of("alice") == std::vector<std::string>{"/buckets/b/groups/g2"});
}

TEST_CASE("the groups of several principals come principal by principal, each group once") {
  fixture f;
  f.write([](storage::writer& b) {
    REQUIRE(b.add_member("alice", "/buckets/b/groups/g2") == status::ok);
    REQUIRE(b.add_member("alice", "/buckets/b/groups/g1") == status::ok);
    REQUIRE(b.add_member("system.Authenticated", "/buckets/b/groups/g0") == status::ok);
    REQUIRE(b.add_member("system.Authenticated", "/buckets/b/groups/g1") == status::ok);
    REQUIRE(b.add_member("bob", "/buckets/b/groups/g9") == status::ok);
  });
  const std::string_view principals[] = {"alice", "system.Authenticated"};
  CHECK(f.engine->read().groups_of_any(principals) ==
        std::vector<std::string>{"/buckets/b/groups/g1", "/buckets/b/groups/g2", "/buckets/b/groups/g0"});
  CHECK(f.engine->read().groups_of_any({}).empty());
}

TEST_CASE("erasing the children of a bucket removes everything below it and nothing else") {
  fixture f;
  const list_key buckets{"", kind::bucket};
  const list_key groups{"/buckets/b", kind::group};
  const list_key collections{"/buckets/b", kind::collection};
  const list_key other{"/buckets/bb", kind::collection};
  f.write([&](storage::writer& b) {
    REQUIRE(b.put(buckets, "b", object{1, false, "{}"}, std::nullopt) == status::ok);
    REQUIRE(b.put(groups, "g", object{2, false, R"({"members":["alice"]})"}, std::nullopt) == status::ok);
    REQUIRE(b.add_member("alice", "/buckets/b/groups/g") == status::ok);
    REQUIRE(b.put(collections, "c", object{3, false, "{}"}, std::nullopt) == status::ok);
    REQUIRE(b.put(records, "r", object{4, false, "{}", R"({"read":["x"]})"}, std::nullopt) == status::ok);
    REQUIRE(b.set_list_timestamp(records, 4) == status::ok);
    REQUIRE(b.put(other, "c", object{5, false, "{}"}, std::nullopt) == status::ok);
    REQUIRE(b.erase_children("/buckets/b") == status::ok);
  });
  auto snap = f.engine->read();
  CHECK(snap.get(buckets, "b"));
  CHECK_FALSE(snap.get(groups, "g"));
  CHECK_FALSE(snap.get(collections, "c"));
  CHECK_FALSE(snap.get(records, "r"));
  CHECK_FALSE(snap.list_timestamp(records));
  CHECK_FALSE(snap.permissions("/buckets/b/collections/c/records/r"));
  bool granted = false;
  snap.walk_grants("x", [&](const list_key&, std::string_view, std::string_view) { return !(granted = true); });
  CHECK_FALSE(granted);
  CHECK(snap.groups_of("alice").empty());
  CHECK(snap.get(other, "c"));
  CHECK(ids_newest_first(snap, records).empty());
}

TEST_CASE("committed data survives closing and reopening the store") {
  test::temp_dir dir;
  std::string error;
  {
    auto engine = storage::open_lmdb({dir.path(), std::size_t(1) << 26, 64}, error);
    REQUIRE(engine);
    auto txn = begin(*engine);
    REQUIRE(txn->put(records, "r", object{7, false, R"({"x":true})"}, std::nullopt) == status::ok);
    REQUIRE(commit(*txn) == status::ok);
  }
  auto engine = storage::open_lmdb({dir.path(), std::size_t(1) << 26, 64}, error);
  REQUIRE(engine);
  auto got = engine->read().get(records, "r");
  REQUIRE(got);
  CHECK(got->data == R"({"x":true})");
}

// ---- storage formats ----------------------------------------------------------

namespace {

/// Writes, with LMDB alone, a directory in storage format 1: objects valued
/// `be64 last_modified, flags, data`, their permissions in a database of
/// their own keyed by URI, the reverse index keyed `principal 0x00 uri
/// 0x00 name`, and no format in `meta`; `more` records of their own in
/// another collection, each writable by alice.
void write_format_1(const std::string& dir, int more = 0) {
  storage::lmdb::env env;
  REQUIRE(env.open(dir, std::size_t(1) << 26, 16, 8) == MDB_SUCCESS);
  storage::lmdb::txn txn;
  REQUIRE(txn.begin(env.get(), false) == MDB_SUCCESS);
  std::map<std::string, MDB_dbi> dbs;
  for (const char* name : {"objects", "changes", "timestamps", "permissions", "grants", "members", "meta"})
    REQUIRE(mdb_dbi_open(txn.get(), name, MDB_CREATE, &dbs[name]) == MDB_SUCCESS);
  auto be64 = [](std::uint64_t v) {
    std::string out;
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
    return out;
  };
  auto put = [&](const char* db, const std::string& key, const std::string& value) {
    REQUIRE(storage::lmdb::put(txn.get(), dbs[db], key, value) == MDB_SUCCESS);
  };
  const std::string prefix = std::string("/buckets/b/collections/c") + '\0' + 'r' + '\0';
  for (int i = 1; i <= 3; ++i) {
    const std::string id = "r" + std::to_string(i);
    put("objects", prefix + id, be64(i) + std::string(1, '\0') + R"({"id":")" + id + "\"}");
    put("changes", prefix + be64(i), id);
  }
  put("objects", prefix + "gone", be64(4) + std::string(1, '\1'));
  put("changes", prefix + be64(4), "gone");
  put("timestamps", prefix, be64(4));
  put("permissions", "/buckets/b/collections/c/records/r1", R"({"write":["alice"]})");
  put("permissions", "/buckets/b/collections/c/records/r2", R"({"read":["bob"],"write":["alice"]})");
  put("permissions", "/buckets/b/collections/c/records/orphan", R"({"write":["carol"]})");
  for (const char* grant : {"alice/r1 write", "alice/r2 write", "bob/r2 read", "carol/orphan write"}) {
    std::string g(grant);
    const auto slash = g.find('/'), space = g.find(' ');
    put("grants", g.substr(0, slash) + '\0' + "/buckets/b/collections/c/records/" + g.substr(slash + 1, space - slash - 1) +
                      '\0' + g.substr(space + 1), "");
  }
  const std::string other = std::string("/buckets/b/collections/other") + '\0' + 'r' + '\0';
  for (int i = 1; i <= more; ++i) {
    const std::string id = "record-" + std::to_string(i), uri = "/buckets/b/collections/other/records/" + id;
    put("objects", other + id, be64(i) + std::string(1, '\0') + R"({"id":")" + id + "\"}");
    put("changes", other + be64(i), id);
    put("permissions", uri, R"({"write":["alice"]})");
    put("grants", std::string("alice") + '\0' + uri + '\0' + "write", "");
  }
  REQUIRE(txn.commit() == MDB_SUCCESS);
}

std::vector<std::string> granted(const storage::view& v, std::string_view principal) {
  std::vector<std::string> found;
  v.walk_grants(principal, [&](const list_key& list, std::string_view id, std::string_view name) {
    found.push_back(list.object_uri(id) + "#" + std::string(name));
    return true;
  });
  return found;
}

} // namespace

TEST_CASE("a directory of storage format 1 is upgraded in place when opened") {
  test::temp_dir dir;
  write_format_1(dir.path());
  std::vector<std::string> lines;
  std::string error;
  storage::lmdb_options options{dir.path(), std::size_t(1) << 26, 64};
  options.log = [&](const std::string& line) { lines.push_back(line); };
  auto engine = storage::open_lmdb(options, error);
  REQUIRE(engine);
  INFO(error);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("from storage format 1 to 2 (3 objects with permissions)") != std::string::npos);
  CHECK(lines[1].find("2 objects with permissions moved, 1 permissions of absent objects dropped") != std::string::npos);
  {
    auto snap = engine->read();
    CHECK(snap.meta("storage_format") == std::string("2"));
    CHECK(snap.get(records, "r1")->data == R"({"id":"r1"})");
    CHECK(snap.get(records, "r1")->permissions == R"({"write":["alice"]})");
    CHECK(snap.permissions("/buckets/b/collections/c/records/r2") == std::string(R"({"read":["bob"],"write":["alice"]})"));
    CHECK_FALSE(snap.permissions("/buckets/b/collections/c/records/r3"));
    CHECK(snap.get(records, "gone")->deleted);
    CHECK(ids_newest_first(snap, records) == std::vector<std::string>{"gone", "r3", "r2", "r1"});
    const std::string r1 = records.object_uri("r1"), r2 = records.object_uri("r2");
    CHECK(granted(snap, "alice") == std::vector<std::string>{r1 + "#write", r2 + "#write"});
    CHECK(granted(snap, "bob") == std::vector<std::string>{r2 + "#read"});
    CHECK(granted(snap, "carol").empty());
  }
  engine.reset();
  lines.clear();
  REQUIRE(storage::open_lmdb(options, error));
  CHECK(lines.empty()); // once is enough
}

TEST_CASE("an upgrade that cannot finish changes nothing and says why") {
  test::temp_dir dir;
  write_format_1(dir.path(), 5000);
  // A map no larger than what is used (LMDB raises a smaller one to that):
  // the upgrade's new pages do not fit.
  std::string error;
  storage::lmdb_options options{dir.path(), 4096, 64};
  auto engine = storage::open_lmdb(options, error);
  REQUIRE_FALSE(engine);
  CHECK(error.find("cannot upgrade") != std::string::npos);
  CHECK(error.find("storage_map_size") != std::string::npos);
  // Still format 1: a larger map upgrades it.
  options.map_size = std::size_t(1) << 26;
  engine = storage::open_lmdb(options, error);
  REQUIRE(engine);
  CHECK(engine->read().permissions("/buckets/b/collections/c/records/r1") == std::string(R"({"write":["alice"]})"));
  CHECK(granted(engine->read(), "alice").size() == 2 + 5000);
}

TEST_CASE("a directory of a newer storage format is refused and left as it is") {
  test::temp_dir dir;
  std::string error;
  storage::lmdb_options options{dir.path(), std::size_t(1) << 26, 64};
  {
    auto engine = storage::open_lmdb(options, error);
    REQUIRE(engine);
    CHECK(engine->read().meta("storage_format") == std::string("2"));
    auto txn = begin(*engine);
    REQUIRE(txn->set_meta("storage_format", "3") == status::ok);
    REQUIRE(txn->put(records, "r", object{1, false, "{}"}, std::nullopt) == status::ok);
    REQUIRE(commit(*txn) == status::ok);
  }
  CHECK_FALSE(storage::open_lmdb(options, error));
  CHECK(error.find("storage format 3") != std::string::npos);
  CHECK(error.find("newer kintod") != std::string::npos);
}

TEST_CASE("a full map is reported as such, not as a crash") {
  fixture f(std::size_t(1) << 20);
  auto txn = begin(*f.engine);
  const std::string big(200000, 'x');
  status s = status::ok;
  for (int i = 0; i < 100 && s == status::ok; ++i) s = txn->put(records, "r" + std::to_string(i), object{std::uint64_t(i + 1), false, big}, std::nullopt);
  CHECK(s == status::full);
}

TEST_CASE("the object encoding round-trips and rejects short input") {
  object o{123456789, false, R"({"k":"v"})"};
  auto back = storage::decode_object(storage::encode_object(o));
  REQUIRE(back);
  CHECK(back->last_modified == o.last_modified);
  CHECK(back->data == o.data);
  CHECK(back->permissions.empty());
  object with{5, false, R"({"id":"x"})", R"({"read":["a"]})"};
  back = storage::decode_object(storage::encode_object(with));
  REQUIRE(back);
  CHECK(back->data == with.data);
  CHECK(back->permissions == with.permissions);
  object tombstone{6, true, "", R"({"read":["a"]})"};
  back = storage::decode_object(storage::encode_object(tombstone));
  REQUIRE(back);
  CHECK(back->deleted);
  CHECK(back->permissions.empty());
  CHECK_FALSE(storage::decode_object("short"));
  // Permissions announced but cut short.
  std::string cut = storage::encode_object(with);
  CHECK_FALSE(storage::decode_object(cut.substr(0, 9 + 12 + 3)));
}

TEST_CASE("the reverse index of permissions follows every change") {
  fixture f;
  const list_key buckets{"", kind::bucket};
  auto grants_of = [&](std::string_view principal, const list_key* only = nullptr) {
    std::vector<std::string> found;
    auto visit = [&](const list_key& list, std::string_view id, std::string_view name) {
      found.push_back(list.object_uri(id) + "#" + std::string(name));
      return true;
    };
    if (only) {
      f.engine->read().walk_grants(principal, *only, visit);
    } else {
      f.engine->read().walk_grants(principal, visit);
    }
    return found;
  };
  using names = std::vector<std::string>;
  f.write([&](storage::writer& b) {
    REQUIRE(b.put(buckets, "b", object{1, false, "{}", R"({"write":["alice"]})"}, std::nullopt) == status::ok);
    REQUIRE(b.put(records, "r", object{2, false, "{}", R"({"read":["bob"],"write":["alice"]})"}, std::nullopt) ==
            status::ok);
    REQUIRE(b.put(records, "q", object{3, false, "{}", R"({"write":["alice","bob"]})"}, std::nullopt) == status::ok);
  });
  const std::string r = records.object_uri("r"), q = records.object_uri("q");
  CHECK(grants_of("bob") == names{r + "#read", q + "#write"});
  // One list, in the order its objects were created.
  CHECK(grants_of("alice", &records) == names{r + "#write", q + "#write"});
  CHECK(grants_of("alice", &buckets) == names{"/buckets/b#write"});
  CHECK(grants_of("alice").size() == 3);
  CHECK(grants_of("carol").empty());

  SECTION("updates move only what changes, and keep the order of creation") {
    f.write([&](storage::writer& b) {
      REQUIRE(b.put(records, "r", object{4, false, "{}", R"({"read":["bob"],"write":["alice"]})"}, 2) == status::ok);
      REQUIRE(b.put(records, "q", object{5, false, "{}", R"({"read":["alice"],"write":["alice"]})"}, 3) == status::ok);
    });
    CHECK(grants_of("alice", &records) == names{r + "#write", q + "#read", q + "#write"});
    CHECK(grants_of("bob") == names{r + "#read"});
  }
  SECTION("deletions and erasures take the object's entries with them") {
    f.write([&](storage::writer& b) { REQUIRE(b.put(records, "r", object{4, true, "", ""}, 2) == status::ok); });
    CHECK(grants_of("bob") == names{q + "#write"});
    f.write([&](storage::writer& b) { REQUIRE(b.erase_object(records, "q") == status::ok); });
    CHECK(grants_of("bob").empty());
    f.write([&](storage::writer& b) {
      REQUIRE(b.put(records, "s", object{6, false, "{}", R"({"write":["alice"]})"}, std::nullopt) == status::ok);
      REQUIRE(b.erase_children("/buckets/b") == status::ok);
    });
    CHECK(grants_of("alice") == names{"/buckets/b#write"});
  }
  SECTION("a forgotten principal leaves every permission; the objects keep their timestamps") {
    f.write([&](storage::writer& b) { REQUIRE(b.forget_principal("alice") == status::ok); });
    CHECK(grants_of("alice").empty());
    CHECK(grants_of("bob") == names{r + "#read", q + "#write"});
    auto snap = f.engine->read();
    CHECK_FALSE(snap.permissions("/buckets/b"));
    CHECK(snap.permissions(r) == std::string(R"({"read":["bob"]})"));
    CHECK(snap.permissions(q) == std::string(R"({"write":["bob"]})"));
    CHECK(snap.get(records, "q")->last_modified == 3);
    CHECK(ids_newest_first(snap, records) == std::vector<std::string>{"q", "r"});
  }
}

TEST_CASE("key limits follow the engine's key size and the key layout") {
  fixture f;
  auto figures = storage::figures_of(*f.engine);
  REQUIRE(figures);
  CHECK(f.engine->keys() == storage::lmdb_key_limits(figures->max_key_bytes));
  const storage::key_limits keys = storage::lmdb_key_limits(511);
  CHECK(keys.principal_bytes() == 252);
  CHECK(keys.uri_bytes(kind::bucket) == 208);
  CHECK(keys.uri_bytes(kind::collection) == 244);
  CHECK(keys.uri_bytes(kind::group) == 252);
  CHECK(keys.uri_bytes(kind::record) == 252);
  CHECK(keys.uri_bytes(kind::account) == 252);
  // A group URI can always be named as a principal.
  CHECK(keys.uri_bytes(kind::group) <= keys.principal_bytes());
  CHECK(keys.uri_fits(list_key{"", kind::bucket}, std::string(199, 'b')));
  CHECK_FALSE(keys.uri_fits(list_key{"", kind::bucket}, std::string(200, 'b')));
  CHECK(keys.uri_fits(records, std::string(252 - 33, 'r')));
  CHECK_FALSE(keys.uri_fits(records, std::string(253 - 33, 'r')));
  CHECK(keys.principal_fits(std::string(252, 'p')));
  CHECK_FALSE(keys.principal_fits(std::string(253, 'p')));
  // History entries are named by UUID4s, whose length the limits assume.
  CHECK(crypto::uuid4().size() == storage::history_entry_id_bytes);
}

TEST_CASE("every key built from the longest URIs and principals fits, one byte more does not") {
  fixture f;
  const storage::key_limits& keys = f.engine->keys();
  const std::string principal(keys.principal_bytes(), 'p');
  const std::string longer = principal + "p";
  auto longest = [&](const list_key& list) {
    return std::string(keys.uri_bytes(list.of) - list.object_uri("").size(), 'x');
  };
  struct target {
    list_key list;
    std::string id;
  };
  const list_key buckets{"", kind::bucket};
  const std::string bucket_id = longest(buckets), bucket_uri = buckets.object_uri(bucket_id);
  const list_key groups{"/buckets/b", kind::group}, collections{"/buckets/b", kind::collection};
  std::vector<target> targets{{buckets, bucket_id},
                              {groups, longest(groups)},
                              {collections, longest(collections)},
                              {records, longest(records)},
                              {list_key{"", kind::account}, longest(list_key{"", kind::account})}};
  // Every permission of each kind names the longest principal, and the
  // longest group URI as a principal.
  const std::string group_uri = groups.object_uri(longest(groups));
  auto permissions_of = [&](kind k, const std::string& who) {
    json::value perms = json::value::object();
    for (std::string_view name : permission_names(k))
      perms.set(name, json::value(json::array_t{json::value(who), json::value(group_uri)}));
    return json::serialize(perms);
  };
  // A history entry of the longest bucket, readable by the longest principal.
  const list_key history{bucket_uri, kind::history};
  const std::string entry_id(storage::history_entry_id_bytes, 'e'), entry_uri = history.object_uri(entry_id);
  f.write([&](storage::writer& b) {
    for (const auto& t : targets) {
      INFO(kind_name(t.list.of));
      const std::string uri = t.list.object_uri(t.id);
      REQUIRE(b.put(t.list, t.id, object{10, false, "{}", permissions_of(t.list.of, principal)}, std::nullopt) ==
              status::ok);
      REQUIRE(b.set_list_timestamp(t.list, 10) == status::ok);
      // The change index of a child list of the object.
      REQUIRE(b.put(list_key{uri, kind::record}, "c", object{11, false, "{}"}, std::nullopt) == status::ok);
    }
    REQUIRE(b.add_member(principal, group_uri) == status::ok);
    REQUIRE(b.put(history, entry_id, object{12, false, "{}", R"({"read":[")" + principal + R"("]})"}, std::nullopt) ==
            status::ok);
  });
  auto snap = f.engine->read();
  for (const auto& t : targets) {
    INFO(kind_name(t.list.of));
    CHECK(snap.get(t.list, t.id));
    CHECK(snap.permissions(t.list.object_uri(t.id)));
  }
  CHECK(snap.groups_of(principal) == std::vector<std::string>{group_uri});

  CHECK(snap.permissions(entry_uri));
  bool entry_granted = false;
  snap.walk_grants(principal, history, [&](const list_key&, std::string_view id, std::string_view name) {
    entry_granted = id == entry_id && name == "read";
    return true;
  });
  CHECK(entry_granted);

  // The limits are those of storage format 1, whose keys were the longest:
  // format 2's keys fit with a few bytes to spare, and a grant far beyond
  // them is refused by LMDB as a failure, not a crash. Each in a transaction
  // of its own: a failed write spoils its transaction.
  auto refused = [&](const target& t, const std::string& who) {
    auto txn = begin(*f.engine);
    return txn->put(t.list, t.id, object{20, false, "{}", R"({"write":[")" + who + R"("]})"}, 10) == status::failed;
  };
  CHECK_FALSE(refused(targets[3], longer));
  CHECK(refused(targets[3], std::string(511, 'p')));
}

// ---- not found, errors and corruption -----------------------------------------

TEST_CASE("lmdb::get tells a key that is not there from an error") {
  test::temp_dir dir;
  storage::lmdb::env env;
  REQUIRE(env.open(dir.path(), std::size_t(1) << 20, 4, 8) == MDB_SUCCESS);
  storage::lmdb::txn txn;
  REQUIRE(txn.begin(env.get(), false) == MDB_SUCCESS);
  MDB_dbi dbi = 0;
  REQUIRE(mdb_dbi_open(txn.get(), "t", MDB_CREATE, &dbi) == MDB_SUCCESS);
  REQUIRE(storage::lmdb::put(txn.get(), dbi, "k", "v") == MDB_SUCCESS);
  std::string_view value;
  CHECK(storage::lmdb::get(txn.get(), dbi, "k", value) == MDB_SUCCESS);
  CHECK(value == "v");
  CHECK(storage::lmdb::get(txn.get(), dbi, "other", value) == MDB_NOTFOUND);
  SECTION("a key LMDB could not store is not there") {
    CHECK(storage::lmdb::get(txn.get(), dbi, std::string(600, 'k'), value) == MDB_NOTFOUND);
    CHECK(storage::lmdb::get(txn.get(), dbi, "", value) == MDB_NOTFOUND);
  }
  SECTION("cursor moves tell the end of the data from an error") {
    storage::lmdb::cursor cur;
    REQUIRE(cur.open(txn.get(), dbi) == MDB_SUCCESS);
    REQUIRE(cur.seek("a") == MDB_SUCCESS);
    CHECK(cur.key() == "k");
    CHECK(cur.next() == MDB_NOTFOUND);
    CHECK(cur.seek("z") == MDB_NOTFOUND);
    CHECK(cur.seek_before("a") == MDB_NOTFOUND);
    REQUIRE(cur.seek_before("z") == MDB_SUCCESS);
    CHECK(cur.key() == "k");
    // A failed write spoils the transaction: every read is refused.
    const std::string big(100000, 'x');
    int rc = MDB_SUCCESS;
    for (int i = 0; i < 100 && rc == MDB_SUCCESS; ++i)
      rc = storage::lmdb::put(txn.get(), dbi, "big" + std::to_string(i), big);
    REQUIRE(rc == MDB_MAP_FULL);
    CHECK(storage::lmdb::get(txn.get(), dbi, "k", value) == MDB_BAD_TXN);
    CHECK(cur.seek("a") == MDB_BAD_TXN);
  }
}

TEST_CASE("reads of ids too long for a key find nothing, which is no failure") {
  fixture f;
  const std::string id(600, 'r');
  CHECK_FALSE(f.engine->read().get(records, id));
  CHECK_FALSE(f.engine->read().permissions(records.object_uri(id)));
  auto txn = begin(*f.engine);
  CHECK_FALSE(txn->get(records, id));
  CHECK_FALSE(txn->list_timestamp(list_key{records.object_uri(id), kind::record}));
  CHECK(ids_newest_first(*txn, list_key{records.object_uri(id), kind::record}).empty());
  CHECK(txn->failure() == status::ok);
  REQUIRE(txn->put(records, "r", object{1, false, "{}"}, std::nullopt) == status::ok);
  CHECK(commit(*txn) == status::ok);
  CHECK(f.engine->read().get(records, "r"));
}

TEST_CASE("after a write fails, the transaction's later writes and its commit fail too") {
  fixture f(std::size_t(1) << 20);
  f.write([](storage::writer& b) { REQUIRE(b.put(records, "kept", object{1, false, "{}"}, std::nullopt) == status::ok); });
  auto txn = begin(*f.engine);
  REQUIRE(txn->put(records, "a", object{2, false, "{}"}, std::nullopt) == status::ok);
  const std::string big(200000, 'x');
  status s = status::ok;
  for (int i = 0; i < 100 && s == status::ok; ++i)
    s = txn->put(records, "big" + std::to_string(i), object{std::uint64_t(10 + i), false, big}, std::nullopt);
  REQUIRE(s == status::full);
  CHECK(txn->failure() == status::full);
  // LMDB refuses the reads of the spoiled transaction: "a" reads as absent,
  // and nothing may be decided on that.
  CHECK_FALSE(txn->get(records, "a"));
  CHECK(txn->erase_object(records, "a") != status::ok);
  CHECK(txn->set_meta("k", "v") != status::ok);
  CHECK(txn->open_savepoint() == nullptr);
  CHECK(commit(*txn) != status::ok);
  auto snap = f.engine->read();
  CHECK(snap.get(records, "kept"));
  CHECK_FALSE(snap.get(records, "a"));
  CHECK_FALSE(snap.meta("k"));
}

TEST_CASE("a read that fails, rather than finding nothing, fails the transaction") {
  fixture f;
  f.write([](storage::writer& b) { REQUIRE(b.put(records, "kept", object{1, false, "{}"}, std::nullopt) == status::ok); });
  auto txn = begin(*f.engine);
  REQUIRE(txn->put(records, "a", object{2, false, "{}"}, std::nullopt) == status::ok);
  // While a savepoint is open LMDB refuses the enclosing transaction's reads.
  auto sp = txn->open_savepoint();
  REQUIRE(sp);
  CHECK_FALSE(txn->get(records, "kept"));
  sp.reset();
  CHECK(txn->failure() == status::failed);
  CHECK(txn->put(records, "b", object{3, false, "{}"}, std::nullopt) == status::failed);
  CHECK(commit(*txn) == status::failed);
  CHECK_FALSE(f.engine->read().get(records, "a"));
}

namespace {

/// Makes every page of the LMDB file `path` that holds `bytes` neither a
/// branch nor a leaf page, past the two meta pages.
void break_pages_holding(const std::string& path, std::string_view bytes) {
  std::string file;
  {
    std::ifstream in(path, std::ios::binary);
    file.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::size_t broken = 0;
  for (std::size_t at = 2 * page; at + page <= file.size(); at += page) {
    if (std::string_view(file).substr(at, page).find(bytes) == std::string_view::npos) continue;
    file[at + 10] = file[at + 11] = 0; // mp_flags, after the page number and mp_pad
    ++broken;
  }
  REQUIRE(broken > 0);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(file.data(), static_cast<std::streamsize>(file.size()));
}

} // namespace

TEST_CASE("corrupt data stops the process with one line naming the database") {
  test::temp_dir dir;
  {
    std::string error;
    auto engine = storage::open_lmdb({dir.path(), std::size_t(1) << 22, 8}, error);
    REQUIRE(engine);
    auto txn = begin(*engine);
    for (int i = 0; i < 50; ++i)
      REQUIRE(txn->put(records, "r" + std::to_string(i), object{std::uint64_t(i + 1), false, "{}"}, std::nullopt) ==
              status::ok);
    REQUIRE(commit(*txn) == status::ok);
  }
  // The key prefix of the list (storage/README.md): its objects' pages.
  const std::string prefix = records.parent + '\0' + 'r' + '\0';
  break_pages_holding(dir.path() + "/data.mdb", prefix);
  int err[2];
  REQUIRE(::pipe(err) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(err[1], 2);
    ::close(err[0]);
    std::string error;
    auto engine = storage::open_lmdb({dir.path(), std::size_t(1) << 22, 8}, error);
    if (!engine) ::_exit(2);
    (void)engine->read().get(records, "r1");
    ::_exit(0);
  }
  ::close(err[1]);
  std::string said;
  char buf[512];
  for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;) said.append(buf, static_cast<std::size_t>(n));
  ::close(err[0]);
  int wstatus = 0;
  REQUIRE(::waitpid(child, &wstatus, 0) == child);
  INFO(said);
  INFO("exit status " << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1));
  REQUIRE(WIFSIGNALED(wstatus));
  CHECK(WTERMSIG(wstatus) == SIGABRT);
  CHECK(said.find("database objects") != std::string::npos);
  CHECK(said.find("MDB_CORRUPTED") != std::string::npos);
  CHECK(std::count(said.begin(), said.end(), '\n') == 1);
}

// ---- savepoints and commits -----------------------------------------------------

TEST_CASE("a savepoint's writes become the transaction's when released, and vanish when dropped") {
  fixture f;
  auto txn = begin(*f.engine);
  REQUIRE(txn->put(records, "before", object{1, false, "{}"}, std::nullopt) == status::ok);
  auto sp = txn->open_savepoint();
  REQUIRE(sp);
  CHECK(sp->get(records, "before"));
  REQUIRE(sp->put(records, "inside", object{2, false, "{}"}, std::nullopt) == status::ok);
  CHECK(sp->get(records, "inside"));
  SECTION("released") {
    CHECK(sp->release() == status::ok);
    sp.reset();
    CHECK(txn->get(records, "inside"));
    CHECK_FALSE(f.engine->read().get(records, "inside"));
    REQUIRE(commit(*txn) == status::ok);
    auto snap = f.engine->read();
    CHECK(snap.get(records, "before"));
    CHECK(snap.get(records, "inside"));
  }
  SECTION("dropped") {
    sp.reset();
    CHECK_FALSE(txn->get(records, "inside"));
    REQUIRE(txn->put(records, "after", object{3, false, "{}"}, std::nullopt) == status::ok);
    REQUIRE(commit(*txn) == status::ok);
    auto snap = f.engine->read();
    CHECK(snap.get(records, "before"));
    CHECK(snap.get(records, "after"));
    CHECK_FALSE(snap.get(records, "inside"));
  }
  SECTION("a failure inside is answered on release; the transaction goes on without the savepoint") {
    CHECK(sp->put(list_key{"", kind::bucket}, "b", object{3, false, "{}", R"({"read":[")" + std::string(600, 'p') + R"("]})"},
                  std::nullopt) == status::failed);
    CHECK(sp->failure() == status::failed);
    CHECK(sp->put(records, "later", object{3, false, "{}"}, std::nullopt) == status::failed);
    CHECK(sp->release() == status::failed);
    sp.reset();
    CHECK(txn->failure() == status::ok);
    CHECK_FALSE(txn->get(records, "inside"));
    REQUIRE(commit(*txn) == status::ok);
    CHECK(f.engine->read().get(records, "before"));
    CHECK_FALSE(f.engine->read().get(records, "inside"));
  }
}

TEST_CASE("a commit calls done once, when what it wrote is durable and visible") {
  fixture f;
  auto txn = begin(*f.engine);
  REQUIRE(txn->put(records, "r", object{1, false, "{}"}, std::nullopt) == status::ok);
  int calls = 0;
  status committed = status::failed;
  bool visible = false;
  txn->commit([&](status s) {
    ++calls;
    committed = s;
    visible = f.engine->read().get(records, "r").has_value();
  });
  // LMDB calls it before commit() returns; a remote engine may call it later.
  CHECK(calls == 1);
  CHECK(committed == status::ok);
  CHECK(visible);
  txn.reset();
  // The next transaction may begin once `done` has run.
  f.write([](storage::writer& b) { REQUIRE(b.put(records, "s", object{2, false, "{}"}, std::nullopt) == status::ok); });
  CHECK(f.engine->read().get(records, "s"));
}

TEST_CASE("a write transaction destroyed without commit keeps nothing") {
  fixture f;
  {
    auto txn = begin(*f.engine);
    REQUIRE(txn->put(records, "r", object{1, false, "{}"}, std::nullopt) == status::ok);
  }
  CHECK_FALSE(f.engine->read().get(records, "r"));
  f.write([](storage::writer& b) { REQUIRE(b.put(records, "s", object{2, false, "{}"}, std::nullopt) == status::ok); });
  CHECK(f.engine->read().get(records, "s"));
}
