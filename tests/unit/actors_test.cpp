// Unit tests of the write path: the rules of one write (core/write_rules)
// and the write service (list actors + group commit, actors/) over a
// temporary store, its writes planned as core plans them.
#include "core/port.hpp"
#include "core/write_rules.hpp"
#include "actors/creation_log.hpp"
#include "actors/write_service.hpp"
#include "storage/lmdb_engine.hpp"
#include "parse_json.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <set>
#include <thread>

using namespace kinto;
using namespace kinto::actors;
using kinto::core::current_state;

namespace {

const list_key records{"/buckets/b/collections/c", kind::record};

using test::parse;

current_state existing(std::uint64_t ts, std::string_view data, std::string_view perms = "{}") {
  current_state s;
  s.object = storage::object{ts, false, std::string(data), {}};
  s.permissions = parse(perms);
  return s;
}

write_command command(write_op op, std::string id, std::optional<std::string_view> data = std::nullopt) {
  write_command cmd;
  cmd.op = op;
  cmd.id = std::move(id);
  cmd.author = "account:alice";
  if (data) cmd.data = parse(*data);
  return cmd;
}

write_plan planned(std::variant<write_plan, error> r) {
  if (auto* e = std::get_if<error>(&r)) FAIL("unexpected error " << render(*e));
  return std::get<write_plan>(std::move(r));
}

error failed(std::variant<write_plan, error> r) {
  REQUIRE(std::holds_alternative<error>(r));
  return std::get<error>(std::move(r));
}

/// What fits in LMDB's default keys of 511 bytes.
const storage::key_limits lmdb_keys = storage::lmdb_key_limits(511);

/// plan_write for a store with LMDB's default keys.
std::variant<write_plan, error> plan_write(const list_key& list, const write_command& cmd, const current_state& current,
                                           std::uint64_t list_ts, std::uint64_t now) {
  return core::plan_write(list, cmd, current, list_ts, now, lmdb_keys);
}

/// Plans `cmd` on what `service`'s store holds and submits it, as requests do.
void submit(storage::engine& store, write_service& service, const list_key& list, write_command cmd,
            std::function<void(write_outcome)> done) {
  core::direct_port port(store, service, [](std::function<void()> work) {
    work();
    return true;
  });
  port.write(list, std::move(cmd), std::move(done), nullptr, [](std::function<void()> work) { work(); });
}

/// Plans `cmd` on the session's own state and writes it there.
write_outcome write_in(write_session& s, const list_key& list, const write_command& cmd) {
  auto planned = core::plan_against(s.read(), list, cmd, s.keys());
  if (auto* answered = std::get_if<write_outcome>(&planned)) return std::move(*answered);
  return s.write(list, std::move(std::get<planned_write>(planned)));
}

std::string detail_name(const error& e) {
  const json::value* name = e.details->as_array()[0].find("name");
  return name->is_string() ? name->as_string() : "null";
}

} // namespace

TEST_CASE("a new object gets the clock's timestamp, id, and its author as writer") {
  auto plan = planned(plan_write(records, command(write_op::put, "r1", R"({"title":"x"})"), {}, 100, 5000));
  CHECK(plan.created);
  CHECK(plan.object.last_modified == 5000);
  CHECK(plan.list_timestamp == 5000);
  CHECK(parse(plan.object.data) == parse(R"({"title":"x","id":"r1","last_modified":5000})"));
  CHECK(parse(plan.object.permissions) == parse(R"({"write":["account:alice"]})"));
}

TEST_CASE("timestamps strictly increase even when the clock does not") {
  auto plan = planned(plan_write(records, command(write_op::put, "r1", "{}"), {}, 9000, 5000));
  CHECK(plan.object.last_modified == 9001);
  CHECK(plan.list_timestamp == 9001);
}

TEST_CASE("client-supplied timestamps follow the list timestamp rules") {
  SECTION("in the future: taken as is, list follows") {
    auto plan = planned(plan_write(records, command(write_op::create, "r", R"({"last_modified":2000})"), {}, 1000, 500));
    CHECK(plan.object.last_modified == 2000);
    CHECK(plan.list_timestamp == 2000);
  }
  SECTION("equal to the list timestamp: one more") {
    auto plan = planned(plan_write(records, command(write_op::create, "r", R"({"last_modified":1000})"), {}, 1000, 500));
    CHECK(plan.object.last_modified == 1001);
    CHECK(plan.list_timestamp == 1001);
  }
  SECTION("in the past: taken, list unchanged") {
    auto plan = planned(plan_write(records, command(write_op::create, "r", R"({"last_modified":700})"), {}, 1000, 500));
    CHECK(plan.object.last_modified == 700);
    CHECK(plan.list_timestamp == 1000);
  }
  SECTION("not older than the object on update: ignored") {
    auto plan = planned(plan_write(records, command(write_op::patch, "r", R"({"last_modified":900})"),
                                   existing(950, R"({"id":"r","last_modified":950})"), 1000, 1200));
    CHECK(plan.object.last_modified == 1200);
  }
  SECTION("not an integer: ignored") {
    auto plan = planned(plan_write(records, command(write_op::patch, "r", R"({"last_modified":"abc"})"),
                                   existing(950, R"({"id":"r","last_modified":950})"), 1000, 1200));
    CHECK(plan.object.last_modified == 1200);
    CHECK(parse(plan.object.data).find("last_modified")->as_int64() == 1200);
  }
}

TEST_CASE("PUT replaces data and keeps permissions unless given") {
  auto current = existing(10, R"({"a":1,"b":2,"id":"r","last_modified":10})", R"({"read":["bob"],"write":["alice"]})");
  SECTION("data replaced") {
    auto plan = planned(plan_write(records, command(write_op::put, "r", R"({"a":3})"), current, 10, 20));
    CHECK_FALSE(plan.created);
    CHECK(parse(plan.object.data) == parse(R"({"a":3,"id":"r","last_modified":20})"));
    CHECK(parse(plan.object.permissions) == parse(R"({"read":["bob"],"write":["alice","account:alice"]})"));
  }
  SECTION("permissions only keeps the data") {
    auto cmd = command(write_op::put, "r");
    cmd.permissions = parse(R"({"read":["carol"]})");
    auto plan = planned(plan_write(records, cmd, current, 10, 20));
    CHECK(parse(plan.object.data) == parse(R"({"a":1,"b":2,"id":"r","last_modified":20})"));
    CHECK(parse(plan.object.permissions) == parse(R"({"read":["carol"],"write":["account:alice"]})"));
  }
}

TEST_CASE("the three PATCH formats merge as Kinto does") {
  auto current = existing(10, R"({"a":{"b":1},"x":1,"id":"r","last_modified":10})");
  SECTION("plain merge replaces top-level keys and stores null") {
    auto plan = planned(plan_write(records, command(write_op::patch, "r", R"({"a":{"c":2},"x":null})"), current, 10, 20));
    CHECK(parse(plan.object.data) == parse(R"({"a":{"c":2},"x":null,"id":"r","last_modified":20})"));
  }
  SECTION("merge-patch merges nested objects and removes nulls") {
    auto cmd = command(write_op::patch, "r", R"({"a":{"c":2},"x":null})");
    cmd.format = patch_format::merge_patch;
    auto plan = planned(plan_write(records, cmd, current, 10, 20));
    CHECK(parse(plan.object.data) == parse(R"({"a":{"b":1,"c":2},"id":"r","last_modified":20})"));
  }
  SECTION("json-patch adds a reader without a value and fails atomically") {
    auto cmd = command(write_op::patch, "r");
    cmd.format = patch_format::json_patch;
    cmd.patch = parse(R"([{"op":"add","path":"/permissions/read/account:x","value":"account:x"}])");
    auto plan = planned(plan_write(records, cmd, current, 10, 20));
    CHECK(parse(plan.object.permissions) == parse(R"({"read":["account:x"],"write":["account:alice"]})"));
    cmd.patch = parse(R"([{"op":"add","path":"/permissions/read","value":[42]}])");
    CHECK(failed(plan_write(records, cmd, current, 10, 20)).status == 400);
    cmd.patch = parse(R"([{"op":"replace","path":"/data/x","value":5},{"op":"test","path":"/data/x","value":6}])");
    auto e = failed(plan_write(records, cmd, current, 10, 20));
    CHECK(e.status == 400);
    CHECK(e.message->find("JSON Patch operation failed") != std::string::npos);
  }
}

TEST_CASE("preconditions decide 412 and 404 before anything is written") {
  auto current = existing(10, R"({"id":"r","last_modified":10})");
  SECTION("If-Match with another timestamp") {
    auto cmd = command(write_op::put, "r", "{}");
    cmd.pre.if_match = 9;
    auto e = failed(plan_write(records, cmd, current, 10, 20));
    CHECK(e.status == 412);
    CHECK(e.details->find("existing"));
  }
  SECTION("If-None-Match: * on an existing object") {
    auto cmd = command(write_op::put, "r", "{}");
    cmd.pre.if_none_match_any = true;
    CHECK(failed(plan_write(records, cmd, current, 10, 20)).status == 412);
  }
  SECTION("If-Match: * on a missing object, without details") {
    auto cmd = command(write_op::put, "r", "{}");
    cmd.pre.if_match_any = true;
    auto e = failed(plan_write(records, cmd, {}, 10, 20));
    CHECK(e.status == 412);
    CHECK_FALSE(e.details);
  }
  SECTION("PATCH of a missing object") {
    auto e = failed(plan_write(records, command(write_op::patch, "r", "{}"), {}, 10, 20));
    CHECK(e.status == 404);
    CHECK(e.code == errnum::invalid_resource_id);
  }
}

TEST_CASE("POST with an existing id returns the stored object without writing") {
  auto current = existing(10, R"({"v":1,"id":"r","last_modified":10})");
  auto plan = planned(plan_write(records, command(write_op::create, "r", R"({"v":2})"), current, 10, 20));
  CHECK_FALSE(plan.needs_write);
  CHECK(plan.object.data == current.object->data);
}

TEST_CASE("deleting gives a tombstone and cascades below buckets and collections") {
  auto current = existing(10, R"({"id":"c","last_modified":10})");
  auto plan = planned(plan_write(list_key{"/buckets/b", kind::collection}, command(write_op::remove, "c"), current, 10, 20));
  CHECK(plan.object.deleted);
  CHECK(plan.object.last_modified == 20);
  CHECK(plan.erase_children);
  SECTION("a proposed tombstone timestamp above the object's is used") {
    auto cmd = command(write_op::remove, "c");
    cmd.tombstone_timestamp = 5000;
    CHECK(planned(plan_write(list_key{"/buckets/b", kind::collection}, cmd, current, 10, 20)).object.last_modified == 5000);
  }
}

TEST_CASE("groups get members by default, reject invalid members and track membership changes") {
  const list_key groups{"/buckets/b", kind::group};
  auto plan = planned(plan_write(groups, command(write_op::put, "g", "{}"), {}, 0, 10));
  CHECK(parse(plan.object.data).find("members")->as_array().empty());
  auto e = failed(plan_write(groups, command(write_op::put, "g", R"({"members":["system.Everyone"]})"), {}, 0, 10));
  CHECK(e.status == 400);
  CHECK(e.message->find("'system.Everyone' is not a valid user ID.") != std::string::npos);
  CHECK(failed(plan_write(groups, command(write_op::put, "g", R"({"members":["/buckets/b/groups/x"]})"), {}, 0, 10)).status == 400);
  auto current = existing(10, R"({"members":["a","b"],"id":"g","last_modified":10})");
  auto change = planned(plan_write(groups, command(write_op::put, "g", R"({"members":["b","c"]})"), current, 10, 20));
  CHECK(change.members_added == std::vector<std::string>{"c"});
  CHECK(change.members_removed == std::vector<std::string>{"a"});
}

TEST_CASE("collections reject a non-integer cache_expires and a non-object schema") {
  const list_key collections{"/buckets/b", kind::collection};
  CHECK(failed(plan_write(collections, command(write_op::put, "c", R"({"cache_expires":"soon"})"), {}, 0, 10)).status == 400);
  CHECK(failed(plan_write(collections, command(write_op::put, "c", R"({"schema":"x"})"), {}, 0, 10)).status == 400);
  CHECK(failed(plan_write(collections, command(write_op::put, "c", R"({"schema":{"type":"Washmachine"}})"), {}, 0, 10)).status == 400);
  CHECK(failed(plan_write(list_key{"", kind::bucket}, command(write_op::put, "b", R"({"record:schema":{"minimum":"abc"}})"), {}, 0, 10)).status == 400);
  planned(plan_write(collections, command(write_op::put, "c", R"({"cache_expires":3600})"), {}, 0, 10));
}

TEST_CASE("an id in the data that differs from the object's is rejected") {
  auto e = failed(plan_write(records, command(write_op::put, "abc", R"({"id":"xyz"})"), {}, 0, 10));
  CHECK(e.message->find("Object id does not match existing object") != std::string::npos);
  CHECK(e.details->as_array()[0].find("name")->as_string() == "id");
}

TEST_CASE("the validator sees the object's id whether or not the data carries it") {
  std::vector<std::string> seen;
  auto remember = [&seen](json::value& data) -> std::optional<error> {
    const json::value* id = data.find("id");
    seen.push_back(id && id->is_string() ? id->as_string() : "<none>");
    return std::nullopt;
  };
  SECTION("create without an id in the data") {
    auto cmd = command(write_op::create, "generated", R"({"a":1})");
    cmd.validate = remember;
    planned(plan_write(records, cmd, {}, 0, 10));
  }
  SECTION("PUT of a new object") {
    auto cmd = command(write_op::put, "generated", "{}");
    cmd.validate = remember;
    planned(plan_write(records, cmd, {}, 0, 10));
  }
  SECTION("PUT replacing without an id") {
    auto cmd = command(write_op::put, "generated", R"({"b":2})");
    cmd.validate = remember;
    planned(plan_write(records, cmd, existing(5, R"({"id":"generated","last_modified":5})"), 5, 10));
  }
  SECTION("merge-patch") {
    auto cmd = command(write_op::patch, "generated", R"({"id":null})");
    cmd.format = patch_format::merge_patch;
    cmd.validate = remember;
    planned(plan_write(records, cmd, existing(5, R"({"id":"generated","last_modified":5})"), 5, 10));
  }
  REQUIRE(seen == std::vector<std::string>{"generated"});
}

TEST_CASE("the validator sees no id for a create whose id was generated") {
  std::optional<std::string> seen_id;
  bool called = false;
  auto cmd = command(write_op::create, "generated", R"({"a":1})");
  cmd.id_generated = true;
  cmd.validate = [&](json::value& data) -> std::optional<error> {
    called = true;
    if (const json::value* id = data.find("id")) seen_id = id->as_string();
    return std::nullopt;
  };
  auto plan = planned(plan_write(records, cmd, {}, 0, 10));
  CHECK(called);
  CHECK_FALSE(seen_id);
}

TEST_CASE("a refusal of the validator refuses the write") {
  auto cmd = command(write_op::create, "Upper", "{}");
  cmd.validate = [](json::value& data) -> std::optional<error> {
    if (data.find("id")->as_string() == "Upper") return invalid_parameter("body", "id", "bad id");
    return std::nullopt;
  };
  auto e = failed(plan_write(records, cmd, {}, 0, 10));
  CHECK(e.status == 400);
  CHECK(e.details->as_array()[0].find("name")->as_string() == "id");
}

TEST_CASE("a write whose URI is too long for a storage key is refused as an invalid id") {
  // A collection URI of 200 bytes: its records' URIs are 209 bytes plus the id.
  const list_key long_records{"/buckets/b/collections/" + std::string(200 - 23, 'c'), kind::record};
  const std::size_t longest_id = lmdb_keys.uri_bytes(kind::record) - 209;
  for (write_op op : {write_op::put, write_op::create}) {
    planned(plan_write(long_records, command(op, std::string(longest_id, 'r'), "{}"), {}, 0, 10));
    auto e = failed(plan_write(long_records, command(op, std::string(longest_id + 1, 'r'), "{}"), {}, 0, 10));
    CHECK(e.status == 400);
    CHECK(e.code == errnum::invalid_parameters);
    CHECK(*e.message == "path: Invalid object id");
  }
  SECTION("a PATCH of an object stored before the limit") {
    auto current = existing(10, R"({"id":"x","last_modified":10})");
    CHECK(failed(plan_write(long_records, command(write_op::patch, std::string(longest_id + 1, 'r'), "{}"), current, 10, 20))
              .status == 400);
  }
  SECTION("deleting such an object stores no new key: allowed") {
    auto current = existing(10, R"({"id":"x","last_modified":10})");
    CHECK(planned(plan_write(long_records, command(write_op::remove, std::string(longest_id + 1, 'r')), current, 10, 20))
              .object.deleted);
  }
}

TEST_CASE("principals and group members too long for a storage key are refused") {
  const std::size_t longest = lmdb_keys.principal_bytes();
  const std::string fits(longest, 'p'), over(longest + 1, 'p');
  SECTION("in the permissions of a write") {
    auto cmd = command(write_op::put, "r", "{}");
    cmd.permissions = json::value::object();
    cmd.permissions->set("read", json::value(json::array_t{json::value(fits)}));
    planned(plan_write(records, cmd, {}, 0, 10));
    cmd.permissions->set("read", json::value(json::array_t{json::value("alice"), json::value(over)}));
    auto e = failed(plan_write(records, cmd, {}, 0, 10));
    CHECK(e.status == 400);
    CHECK(e.code == errnum::invalid_parameters);
    CHECK(detail_name(e) == "permissions.read");
  }
  SECTION("added by a JSON-Patch, from a path or copied from the data") {
    auto current = existing(10, R"({"id":"r","last_modified":10,"p":[")" + over + R"("]})");
    auto cmd = command(write_op::patch, "r");
    cmd.format = patch_format::json_patch;
    cmd.patch = parse(R"([{"op":"add","path":"/permissions/write/)" + over + R"(","value":")" + over + R"("}])");
    CHECK(detail_name(failed(plan_write(records, cmd, current, 10, 20))) == "permissions.write");
    cmd.patch = parse(R"([{"op":"copy","from":"/data/p","path":"/permissions/read"}])");
    CHECK(detail_name(failed(plan_write(records, cmd, current, 10, 20))) == "permissions.read");
  }
  SECTION("the author, made a writer") {
    auto cmd = command(write_op::put, "r", "{}");
    cmd.author = over;
    CHECK(detail_name(failed(plan_write(records, cmd, {}, 0, 10))) == "permissions.write");
    cmd.explicit_permissions = false;
    planned(plan_write(records, cmd, {}, 0, 10));
  }
  SECTION("among a group's members") {
    const list_key groups{"/buckets/b", kind::group};
    planned(plan_write(groups, command(write_op::put, "g", R"({"members":[")" + fits + R"("]})"), {}, 0, 10));
    auto e = failed(plan_write(groups, command(write_op::put, "g", R"({"members":["a",")" + over + R"("]})"), {}, 0, 10));
    CHECK(e.status == 400);
    CHECK(detail_name(e) == "data.members.1");
  }
}

// ---- the write service --------------------------------------------------------

namespace {

struct service_fixture {
  test::temp_dir dir;
  std::unique_ptr<storage::engine> store;
  std::unique_ptr<write_service> service;
  explicit service_fixture(std::chrono::milliseconds idle = std::chrono::milliseconds(30000)) {
    std::string error;
    store = storage::open_lmdb({dir.path(), std::size_t(1) << 28, 64}, error);
    REQUIRE(store);
    write_service_options options;
    options.worker_threads = 2;
    options.idle_retirement = idle;
    service = std::make_unique<write_service>(*store, options);
  }
  write_outcome run(const list_key& list, write_command cmd) {
    std::promise<write_outcome> done;
    auto result = done.get_future();
    submit(*store, *service, list, std::move(cmd), [&done](write_outcome o) { done.set_value(std::move(o)); });
    return result.get();
  }
  void create_parents() {
    REQUIRE_FALSE(run(list_key{"", kind::bucket}, command(write_op::put, "b", "{}")).failure);
    REQUIRE_FALSE(run(list_key{"/buckets/b", kind::collection}, command(write_op::put, "c", "{}")).failure);
  }
};

} // namespace

TEST_CASE("acknowledged writes are in the store with distinct increasing timestamps") {
  service_fixture f;
  f.create_parents();
  constexpr int writers = 4, per_writer = 50;
  // Commands are built here: Catch's assertions may only run on this thread.
  std::vector<std::vector<write_command>> commands(writers);
  for (int w = 0; w < writers; ++w)
    for (int i = 0; i < per_writer; ++i)
      commands[w].push_back(command(write_op::put, "r" + std::to_string(w) + "-" + std::to_string(i), R"({"n":1})"));
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::vector<std::uint64_t> stamps;
  std::atomic<int> failures{0};
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (auto& cmd : commands[w]) {
        auto out = f.run(records, std::move(cmd));
        if (out.failure) {
          ++failures;
          continue;
        }
        std::lock_guard<std::mutex> lock(mutex);
        stamps.push_back(out.last_modified);
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(failures == 0);
  CHECK(std::set<std::uint64_t>(stamps.begin(), stamps.end()).size() == stamps.size());
  auto snap = f.store->read();
  std::size_t count = 0;
  snap.walk(records, 0, 0, true, [&](const storage::change&) { return ++count, true; });
  CHECK(count == writers * per_writer);
  CHECK(snap.list_timestamp(records) == *std::max_element(stamps.begin(), stamps.end()));
}

TEST_CASE("a record write under a missing collection fails with 404 and writes nothing") {
  service_fixture f;
  auto out = f.run(records, command(write_op::put, "r", "{}"));
  REQUIRE(out.failure);
  CHECK(out.failure->status == 404);
  CHECK(out.failure->code == errnum::missing_resource);
  CHECK_FALSE(f.store->read().get(records, "r"));
}

TEST_CASE("a write planned on a version another write replaced is answered stale, once that one is durable") {
  service_fixture f;
  f.create_parents();
  REQUIRE_FALSE(f.run(records, command(write_op::put, "r", R"({"v":1})")).failure);
  // Two writes planned on the same snapshot, submitted back to back.
  auto snap = f.store->read();
  auto plan = [&](std::string_view data) {
    auto planned = core::plan_against(snap, records, command(write_op::patch, "r", data), f.store->keys());
    REQUIRE(std::holds_alternative<planned_write>(planned));
    return std::get<planned_write>(std::move(planned));
  };
  planned_write first = plan(R"({"w":2})"), second = plan(R"({"x":3})");
  std::promise<write_outcome> first_done, second_done;
  f.service->submit(records, std::move(first), [&](write_outcome o) { first_done.set_value(std::move(o)); });
  f.service->submit(records, std::move(second), [&](write_outcome o) { second_done.set_value(std::move(o)); });
  auto a = first_done.get_future().get();
  auto b = second_done.get_future().get();
  REQUIRE_FALSE(a.failure);
  CHECK_FALSE(a.stale);
  CHECK(b.stale);
  CHECK_FALSE(b.failure);
  // The stale one wrote nothing, and the first one was durable before it was answered.
  auto stored = f.store->read().get(records, "r");
  REQUIRE(stored);
  CHECK(stored->last_modified == a.last_modified);
  CHECK(parse(stored->data) == parse(R"({"v":1,"w":2,"id":"r","last_modified":)" + std::to_string(a.last_modified) + "}"));
}

TEST_CASE("concurrent writes of one object through the port are each planned on the version before them") {
  service_fixture f;
  f.create_parents();
  REQUIRE_FALSE(f.run(records, command(write_op::put, "r", "{}")).failure);
  constexpr int writers = 8;
  std::vector<std::promise<write_outcome>> done(writers);
  for (int i = 0; i < writers; ++i)
    submit(*f.store, *f.service, records, command(write_op::patch, "r", R"({"f)" + std::to_string(i) + R"(":1})"),
           [&done, i](write_outcome o) { done[i].set_value(std::move(o)); });
  std::set<std::uint64_t> stamps;
  for (auto& d : done) {
    auto out = d.get_future().get();
    REQUIRE_FALSE(out.failure);
    stamps.insert(out.last_modified);
  }
  CHECK(stamps.size() == writers);
  // No write was lost: every field is there.
  auto data = parse(f.store->read().get(records, "r")->data);
  for (int i = 0; i < writers; ++i) CHECK(data.find("f" + std::to_string(i)));
}

TEST_CASE("deleting a bucket removes its collections and records") {
  service_fixture f;
  f.create_parents();
  REQUIRE_FALSE(f.run(records, command(write_op::put, "r", "{}")).failure);
  REQUIRE_FALSE(f.run(list_key{"", kind::bucket}, command(write_op::remove, "b")).failure);
  auto snap = f.store->read();
  CHECK(snap.get(list_key{"", kind::bucket}, "b")->deleted);
  CHECK_FALSE(snap.get(list_key{"/buckets/b", kind::collection}, "c"));
  CHECK_FALSE(snap.get(records, "r"));
}

TEST_CASE("idle list actors retire and come back on the next write") {
  service_fixture f(std::chrono::milliseconds(20));
  f.create_parents();
  REQUIRE_FALSE(f.run(records, command(write_op::put, "r1", "{}")).failure);
  // Wait (bounded) for the idle timeout to retire every list actor.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (f.service->live_lists() != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  CHECK(f.service->live_lists() == 0);
  auto out = f.run(records, command(write_op::put, "r2", "{}"));
  REQUIRE_FALSE(out.failure);
  CHECK(f.store->read().get(records, "r1"));
  CHECK(f.store->read().list_timestamp(records) == out.last_modified);
}

TEST_CASE("the first read of an empty list gets a timestamp that stays") {
  service_fixture f;
  f.create_parents();
  auto touch = command(write_op::touch, "");
  auto a = f.run(records, touch);
  REQUIRE_FALSE(a.failure);
  const auto first = f.store->read().list_timestamp(records);
  REQUIRE(first);
  CHECK(*first == a.last_modified);
  REQUIRE_FALSE(f.run(records, touch).failure);
  CHECK(f.store->read().list_timestamp(records) == first);
}

TEST_CASE("a new write service continues after the list timestamp stored by the previous one") {
  test::temp_dir dir;
  std::string error;
  auto store = storage::open_lmdb({dir.path(), std::size_t(1) << 28, 64}, error);
  REQUIRE(store);
  auto run = [&](write_service& service, const list_key& list, write_command cmd) {
    std::promise<write_outcome> done;
    auto result = done.get_future();
    submit(*store, service, list, std::move(cmd), [&done](write_outcome o) { done.set_value(std::move(o)); });
    return result.get();
  };
  const std::uint64_t ahead = now_ms() + 600000;
  {
    write_service first(*store, write_service_options{});
    REQUIRE_FALSE(run(first, list_key{"", kind::bucket}, command(write_op::put, "b", "{}")).failure);
    REQUIRE_FALSE(run(first, list_key{"/buckets/b", kind::collection}, command(write_op::put, "c", "{}")).failure);
    auto out = run(first, records, command(write_op::put, "r1", R"({"last_modified":)" + std::to_string(ahead) + "}"));
    REQUIRE(out.last_modified == ahead);
  }
  write_service second(*store, write_service_options{});
  auto next = run(second, records, command(write_op::put, "r2", "{}"));
  REQUIRE_FALSE(next.failure);
  CHECK(next.last_modified == ahead + 1);
}

// ---- batch sessions ------------------------------------------------------------

namespace {

/// Runs `body` in a session and waits until its outcome is durable.
storage::status run_session(service_fixture& f, std::function<void(write_session&)> body) {
  std::promise<storage::status> done;
  auto result = done.get_future();
  f.service->run_session(std::move(body), [&done](storage::status s) { done.set_value(s); });
  return result.get();
}

} // namespace

TEST_CASE("a session reads its own writes and keeps them together once committed") {
  service_fixture f;
  f.create_parents();
  write_outcome a, b;
  bool seen_inside = false, hidden_outside = false;
  CHECK(run_session(f, [&](write_session& s) {
          a = write_in(s, records, command(write_op::put, "a", R"({"n":1})"));
          b = write_in(s, records, command(write_op::put, "b", R"({"n":2})"));
          seen_inside = s.read().get(records, "a").has_value();
          hidden_outside = !f.store->read().get(records, "a").has_value();
        }) == storage::status::ok);
  REQUIRE_FALSE(a.failure);
  REQUIRE_FALSE(b.failure);
  CHECK(seen_inside);
  CHECK(hidden_outside);
  CHECK(b.last_modified > a.last_modified);
  auto snap = f.store->read();
  CHECK(snap.get(records, "a"));
  CHECK(snap.list_timestamp(records) == b.last_modified);
}

TEST_CASE("a session rolled back keeps only what came after; an aborted one keeps nothing") {
  service_fixture f;
  f.create_parents();
  CHECK(run_session(f, [&](write_session& s) {
          CHECK_FALSE(write_in(s, records, command(write_op::put, "dropped", "{}")).failure);
          s.roll_back();
          CHECK_FALSE(s.read().get(records, "dropped"));
          CHECK_FALSE(write_in(s, records, command(write_op::put, "kept", "{}")).failure);
        }) == storage::status::ok);
  CHECK_FALSE(f.store->read().get(records, "dropped"));
  CHECK(f.store->read().get(records, "kept"));
  CHECK(run_session(f, [&](write_session& s) {
          CHECK_FALSE(write_in(s, records, command(write_op::put, "never", "{}")).failure);
          s.abort();
        }) == storage::status::ok);
  CHECK_FALSE(f.store->read().get(records, "never"));
}

TEST_CASE("writes submitted while a session runs wait for it and see what it wrote") {
  service_fixture f;
  f.create_parents();
  std::mutex mutex;
  std::vector<std::string> order;
  std::promise<write_outcome> patched;
  std::uint64_t session_ts = 0;
  REQUIRE_FALSE(f.run(records, command(write_op::put, "r", R"({"v":0})")).failure);
  run_session(f, [&](write_session& s) {
    session_ts = write_in(s, records, command(write_op::put, "r", R"({"v":1})")).last_modified;
    // Planned on the version before the session, it lands after it, planned
    // again on what the session wrote.
    auto patch = command(write_op::patch, "r", R"({"w":2})");
    submit(*f.store, *f.service, records, std::move(patch), [&](write_outcome o) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        order.push_back("write");
      }
      patched.set_value(std::move(o));
    });
    std::lock_guard<std::mutex> lock(mutex);
    order.push_back("session");
  });
  auto out = patched.get_future().get();
  REQUIRE_FALSE(out.failure);
  CHECK(out.last_modified > session_ts);
  CHECK(order == std::vector<std::string>{"session", "write"});
  CHECK(parse(out.data) == parse(R"({"v":1,"w":2,"id":"r","last_modified":)" + std::to_string(out.last_modified) + "}"));
}

TEST_CASE("a list actor picks up the timestamp a session gave its list") {
  service_fixture f;
  f.create_parents();
  // The list actor exists and caches the list's timestamp...
  auto before = f.run(records, command(write_op::put, "x", "{}"));
  REQUIRE_FALSE(before.failure);
  // ...then a session writes the list with a timestamp far in the future.
  const std::uint64_t future = before.last_modified + 1000000;
  run_session(f, [&](write_session& s) {
    CHECK_FALSE(write_in(s, records, command(write_op::put, "y", R"({"last_modified":)" + std::to_string(future) + "}"))
                  .failure);
  });
  auto after = f.run(records, command(write_op::put, "z", "{}"));
  REQUIRE_FALSE(after.failure);
  CHECK(after.last_modified > future);
}

TEST_CASE("a write planned before a session moved its list on is answered stale and writes nothing") {
  service_fixture f;
  f.create_parents();
  REQUIRE_FALSE(f.run(records, command(write_op::put, "x", "{}")).failure);
  auto planned = core::plan_against(f.store->read(), records, command(write_op::put, "y", "{}"), f.store->keys());
  REQUIRE(std::holds_alternative<planned_write>(planned));
  const std::uint64_t future = now_ms() + 1000000;
  run_session(f, [&](write_session& s) {
    CHECK_FALSE(write_in(s, records, command(write_op::put, "z", R"({"last_modified":)" + std::to_string(future) + "}"))
                  .failure);
  });
  // The list actor knows the list only as the write was planned on it.
  std::promise<write_outcome> done;
  f.service->submit(records, std::get<planned_write>(std::move(planned)),
                    [&](write_outcome o) { done.set_value(std::move(o)); });
  auto out = done.get_future().get();
  CHECK(out.stale);
  CHECK_FALSE(f.store->read().get(records, "y"));
  // Planned again, on what is stored, it lands past the session's write.
  auto again = f.run(records, command(write_op::put, "y", "{}"));
  REQUIRE_FALSE(again.failure);
  CHECK(again.last_modified > future);
}

// ---- commits that report back later ---------------------------------------------

namespace {

/// LMDB behind an engine whose commits report back later, from threads of
/// their own, as a remote engine's may. It notes whether a transaction ever
/// began while a commit had not reported back, and which ids each commit
/// made durable once it has.
class deferred_engine final : public storage::engine {
public:
  explicit deferred_engine(std::unique_ptr<storage::engine> inner) : inner_(std::move(inner)) {}
  ~deferred_engine() override {
    for (auto& t : reporters_) t.join();
  }
  storage::snapshot read() const override { return inner_->read(); }
  const storage::key_limits& keys() const override { return inner_->keys(); }
  storage::status begin_write(std::unique_ptr<storage::write_transaction>& txn) override;

  bool durable(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return durable_.count(id) != 0;
  }

  std::atomic<bool> overlapped{false};
  std::atomic<int> pending{0}; ///< commits that have not reported back

private:
  friend class deferred_transaction;
  std::unique_ptr<storage::engine> inner_;
  std::mutex mutex_;
  std::set<std::string> durable_;
  std::vector<std::thread> reporters_;
};

class deferred_transaction final : public storage::write_transaction {
public:
  deferred_transaction(deferred_engine& engine, std::unique_ptr<storage::write_transaction> inner)
      : engine_(engine), inner_(std::move(inner)) {}

  std::optional<storage::object> get(const list_key& list, std::string_view id) const override {
    return inner_->get(list, id);
  }
  std::optional<std::uint64_t> list_timestamp(const list_key& list) const override {
    return inner_->list_timestamp(list);
  }
  std::vector<std::string> groups_of_any(std::span<const std::string_view> principals) const override {
    return inner_->groups_of_any(principals);
  }
  void walk(const list_key& list, std::uint64_t after, std::uint64_t before, bool newest_first,
            const std::function<bool(const storage::change&)>& visit,
            const std::function<bool(std::string_view id)>& wanted) const override {
    inner_->walk(list, after, before, newest_first, visit, wanted);
  }
  void walk_all(const list_key& list, const std::function<bool(const storage::change&)>& visit) const override {
    inner_->walk_all(list, visit);
  }
  std::optional<std::string> meta(std::string_view key) const override { return inner_->meta(key); }

  storage::status put(const list_key& list, std::string_view id, const storage::object& obj,
                      std::optional<std::uint64_t> previous) override {
    ids_.emplace_back(id);
    return inner_->put(list, id, obj, previous);
  }
  storage::status set_list_timestamp(const list_key& list, std::uint64_t ts) override {
    return inner_->set_list_timestamp(list, ts);
  }
  storage::status add_member(std::string_view principal, std::string_view group_uri) override {
    return inner_->add_member(principal, group_uri);
  }
  storage::status remove_member(std::string_view principal, std::string_view group_uri) override {
    return inner_->remove_member(principal, group_uri);
  }
  storage::status erase_children(std::string_view uri) override { return inner_->erase_children(uri); }
  storage::status erase_object(const list_key& list, std::string_view id) override {
    return inner_->erase_object(list, id);
  }
  storage::status forget_principal(std::string_view principal) override {
    return inner_->forget_principal(principal);
  }
  storage::status set_meta(std::string_view key, std::string_view value) override {
    return inner_->set_meta(key, value);
  }
  storage::status erase_everything() override { return inner_->erase_everything(); }
  storage::status failure() const override { return inner_->failure(); }
  std::unique_ptr<storage::savepoint> open_savepoint() override { return inner_->open_savepoint(); }

  void commit(std::function<void(storage::status)> done) override {
    storage::status committed = storage::status::failed;
    inner_->commit([&committed](storage::status s) { committed = s; });
    ++engine_.pending;
    std::lock_guard<std::mutex> lock(engine_.mutex_);
    engine_.reporters_.emplace_back([&engine = engine_, committed, ids = std::move(ids_), done = std::move(done)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (committed == storage::status::ok) {
        std::lock_guard<std::mutex> lock(engine.mutex_);
        engine.durable_.insert(ids.begin(), ids.end());
      }
      --engine.pending; // before `done`: the committer may begin the next transaction at once
      done(committed);
    });
  }

private:
  std::optional<std::string> read_permissions(std::string_view uri) const override { return inner_->permissions(uri); }
  void walk_grants_in(std::string_view principal, const list_key* list,
                      const storage::grant_visitor& visit) const override {
    if (list) {
      inner_->walk_grants(principal, *list, visit);
    } else {
      inner_->walk_grants(principal, visit);
    }
  }

  deferred_engine& engine_;
  std::unique_ptr<storage::write_transaction> inner_;
  std::vector<std::string> ids_;
};

storage::status deferred_engine::begin_write(std::unique_ptr<storage::write_transaction>& txn) {
  if (pending.load() != 0) overlapped = true;
  std::unique_ptr<storage::write_transaction> inner;
  if (storage::status s = inner_->begin_write(inner); s != storage::status::ok) return s;
  txn = std::make_unique<deferred_transaction>(*this, std::move(inner));
  return storage::status::ok;
}

} // namespace

TEST_CASE("with commits that report back later, writes are answered only then and transactions never overlap") {
  test::temp_dir dir;
  std::string error;
  auto lmdb = storage::open_lmdb({dir.path(), std::size_t(1) << 28, 64}, error);
  REQUIRE(lmdb);
  deferred_engine engine(std::move(lmdb));
  constexpr int writers = 4, per_writer = 25;
  std::atomic<int> answered_ok{0}, answered_early{0};
  {
    write_service_options options;
    options.worker_threads = 2;
    write_service service(engine, options);
    auto run = [&](const list_key& list, write_command cmd) {
      std::promise<write_outcome> done;
      auto result = done.get_future();
      submit(engine, service, list, std::move(cmd), [&done](write_outcome o) { done.set_value(std::move(o)); });
      return result.get();
    };
    REQUIRE_FALSE(run(list_key{"", kind::bucket}, command(write_op::put, "b", "{}")).failure);
    REQUIRE_FALSE(run(list_key{"/buckets/b", kind::collection}, command(write_op::put, "c", "{}")).failure);
    // Commands are built here: Catch's assertions may only run on this thread.
    std::vector<std::vector<write_command>> commands(writers);
    for (int w = 0; w < writers; ++w)
      for (int i = 0; i < per_writer; ++i)
        commands[w].push_back(command(write_op::put, "r" + std::to_string(w) + "-" + std::to_string(i), "{}"));
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        for (auto& cmd : commands[w]) {
          const std::string id = cmd.id;
          if (run(records, std::move(cmd)).failure) continue;
          ++answered_ok;
          if (!engine.durable(id)) ++answered_early;
        }
      });
    }
    for (auto& t : threads) t.join();
    // A session's savepoint, in a transaction whose commit reports back later.
    std::promise<storage::status> session_done;
    bool session_write_failed = true;
    auto session_cmd = command(write_op::put, "in-session", "{}");
    service.run_session(
      [&](write_session& s) { session_write_failed = write_in(s, records, std::move(session_cmd)).failure.has_value(); },
      [&](storage::status s) { session_done.set_value(s); });
    CHECK(session_done.get_future().get() == storage::status::ok);
    CHECK_FALSE(session_write_failed);
    service.shutdown();
  }
  CHECK(answered_ok == writers * per_writer);
  CHECK(answered_early == 0);
  CHECK_FALSE(engine.overlapped);
  CHECK(engine.read().get(records, "in-session"));
  std::size_t stored = 0;
  engine.read().walk(records, 0, 0, true, [&](const storage::change&) { return ++stored, true; });
  CHECK(stored == writers * per_writer + 1);
}

TEST_CASE("the creation log remembers creations, announces them once, and hears other heads'", "[creations]") {
  using kinto::actors::creation_log;
  const kinto::list_key list{"/buckets/b/collections/c", kinto::kind::record};
  creation_log here(2), there;
  CHECK_FALSE(here.created_at(list, "r1"));
  here.created(list, "r1", 10);
  here.created(list, "r2", 20);
  CHECK(here.created_at(list, "r1") == 10u);

  // Announced with the next commit, then not again.
  auto messages = here.announcements();
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].find("/buckets/b/collections/c/records\tr2\t20") != std::string::npos);
  CHECK(here.announcements().front().find('\n') == std::string::npos);

  // Another head takes them in; a head ignores its own messages.
  CHECK(there.heard(messages[0]));
  CHECK(there.created_at(list, "r2") == 20u);
  CHECK_FALSE(here.heard(messages[0]));
  CHECK_FALSE(there.heard("not an announcement"));

  // Bounded: the oldest is forgotten first.
  here.created(list, "r3", 30);
  CHECK_FALSE(here.created_at(list, "r1"));
  CHECK(here.created_at(list, "r3") == 30u);

  // Long announcements are split; ids the quoting could not carry are kept
  // to this head.
  creation_log many;
  for (int i = 0; i < 1000; ++i) many.created(list, "record-" + std::to_string(i), 1000 + i);
  many.created(list, "cost$5", 5);
  const auto split = many.announcements();
  CHECK(split.size() > 1);
  creation_log listener;
  for (const auto& m : split) {
    CHECK(m.size() < 8000);
    CHECK(m.find('$') == std::string::npos);
    listener.heard(m);
  }
  CHECK(listener.created_at(list, "record-999") == 1999u);
  CHECK(listener.created_at(list, "record-0") == 1000u);
  CHECK_FALSE(listener.created_at(list, "cost$5"));
  CHECK(many.created_at(list, "cost$5") == 5u);
  // A failed transaction's creations are not announced.
  many.created(list, "lost", 7);
  many.drop_unannounced();
  CHECK(many.announcements().front().find("lost") == std::string::npos);
}
