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

TEST_CASE("list timestamps and permissions are stored per list and per object") {
  fixture f;
  CHECK_FALSE(f.engine->read().list_timestamp(records));
  f.write([](storage::writer& b) {
    REQUIRE(b.set_list_timestamp(records, 42) == status::ok);
    REQUIRE(b.set_permissions("/buckets/b", R"({"write":["u"]})") == status::ok);
  });
  auto snap = f.engine->read();
  CHECK(snap.list_timestamp(records) == 42u);
  CHECK_FALSE(snap.list_timestamp(list_key{"/buckets/b", kind::collection}));
  CHECK(snap.permissions("/buckets/b") == std::string(R"({"write":["u"]})"));
  f.write([](storage::writer& b) { REQUIRE(b.set_permissions("/buckets/b", "{}") == status::ok); });
  CHECK_FALSE(f.engine->read().permissions("/buckets/b"));
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
    REQUIRE(b.put(records, "r", object{4, false, "{}"}, std::nullopt) == status::ok);
    REQUIRE(b.set_list_timestamp(records, 4) == status::ok);
    REQUIRE(b.set_permissions("/buckets/b/collections/c/records/r", R"({"read":["x"]})") == status::ok);
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
  CHECK_FALSE(storage::decode_object("short"));
}

TEST_CASE("the reverse index of permissions follows every change") {
  fixture f;
  auto uris_of = [&](std::string_view principal, std::string_view prefix) {
    std::vector<std::string> found;
    f.engine->read().walk_grants(principal, prefix, [&](std::string_view uri, std::string_view name) {
      found.push_back(std::string(uri) + "#" + std::string(name));
      return true;
    });
    return found;
  };
  f.write([](storage::writer& b) {
    REQUIRE(b.set_permissions("/buckets/b/collections/c/records/r", R"({"read":["bob"],"write":["alice"]})") == status::ok);
    REQUIRE(b.set_permissions("/buckets/b", R"({"write":["alice"]})") == status::ok);
  });
  CHECK(uris_of("bob", "") == std::vector<std::string>{"/buckets/b/collections/c/records/r#read"});
  CHECK(uris_of("alice", "/buckets/b/collections/") == std::vector<std::string>{"/buckets/b/collections/c/records/r#write"});
  f.write([](storage::writer& b) { REQUIRE(b.set_permissions("/buckets/b/collections/c/records/r", R"({"write":["alice"]})") == status::ok); });
  CHECK(uris_of("bob", "").empty());
  f.write([](storage::writer& b) { REQUIRE(b.erase_children("/buckets/b") == status::ok); });
  CHECK(uris_of("alice", "") == std::vector<std::string>{"/buckets/b#write"});
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
      REQUIRE(b.put(t.list, t.id, object{10, false, "{}"}, std::nullopt) == status::ok);
      REQUIRE(b.set_list_timestamp(t.list, 10) == status::ok);
      REQUIRE(b.set_permissions(uri, permissions_of(t.list.of, principal)) == status::ok);
      // The change index of a child list of the object.
      REQUIRE(b.put(list_key{uri, kind::record}, "c", object{11, false, "{}"}, std::nullopt) == status::ok);
    }
    REQUIRE(b.add_member(principal, group_uri) == status::ok);
    REQUIRE(b.put(history, entry_id, object{12, false, "{}"}, std::nullopt) == status::ok);
    REQUIRE(b.set_permissions(entry_uri, R"({"read":[")" + principal + R"("]})") == status::ok);
  });
  auto snap = f.engine->read();
  for (const auto& t : targets) {
    INFO(kind_name(t.list.of));
    CHECK(snap.get(t.list, t.id));
    CHECK(snap.permissions(t.list.object_uri(t.id)));
  }
  CHECK(snap.groups_of(principal) == std::vector<std::string>{group_uri});

  // One byte more in a principal: the longest grant of each kind no longer fits.
  // Each in a transaction of its own: a failed write spoils its transaction.
  auto refused = [&](const std::string& uri, const std::string& json_object) {
    auto txn = begin(*f.engine);
    return txn->set_permissions(uri, json_object) == status::failed;
  };
  for (const auto& t : {targets[1], targets[3], targets[4]}) {
    INFO(kind_name(t.list.of));
    CHECK(refused(t.list.object_uri(t.id), R"({"write":[")" + longer + R"("]})"));
  }
  CHECK(refused(targets[2].list.object_uri(targets[2].id), R"({"record:create":[")" + longer + R"("]})"));
  CHECK(refused(entry_uri, R"({"read":[")" + longer + R"("]})"));
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
    CHECK(sp->set_permissions("/buckets/b", R"({"read":[")" + std::string(600, 'p') + R"("]})") == status::failed);
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
