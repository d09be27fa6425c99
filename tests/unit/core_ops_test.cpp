// Unit tests of core/'s operations: typed requests run on a port over a
// temporary store and the real write path, results checked as values. No
// network, no HTTP.
#include "core/ops.hpp"
#include "parse_json.hpp"
#include "store_fixture.hpp"

#include <catch2/catch.hpp>

#include <future>

using namespace kinto;

namespace {

using test::parse;

const list_key buckets{"", kind::bucket};
const list_key collections{"/buckets/b", kind::collection};
const list_key records{"/buckets/b/collections/c", kind::record};

/// A store, the write path, the direct port and the context of operations
/// whose continuations run inline.
struct ops_fixture : test::store_fixture {
  std::unique_ptr<core::direct_port> direct;
  core::rules cfg;
  core::schema_cache schemas;
  core::token_registry tokens{std::chrono::seconds(60)};

  ops_fixture() {
    direct = std::make_unique<core::direct_port>(*store, *writes, [](std::function<void()> work) {
      work();
      return true;
    });
    cfg.principal_settings.by_name["bucket_create_principals"] = {"system.Authenticated"};
  }
  core::context context() {
    return core::context{cfg, schemas, tokens, [](std::function<void()> work) { work(); }};
  }

  /// Runs an operation to its result.
  template <class Request, class Value>
  core::result<Value> run(void (*op)(const core::context&, core::port&, Request,
                                     std::function<void(core::result<Value>)>),
                          Request req, core::port* on = nullptr) {
    std::promise<core::result<Value>> done;
    auto answer = done.get_future();
    op(context(), on ? *on : *direct, std::move(req),
       [&done](core::result<Value> r) { done.set_value(std::move(r)); });
    return answer.get();
  }

  core::result<core::object_written> write(std::string user, const list_key& list, core::write_op op, std::string id,
                                           std::optional<std::string_view> data = std::nullopt,
                                           std::optional<std::string_view> permissions = std::nullopt) {
    core::object_write w;
    w.user_id = std::move(user);
    w.list = list;
    w.cmd.op = op;
    w.cmd.id = std::move(id);
    if (data) w.cmd.data = parse(*data);
    if (permissions) w.cmd.permissions = parse(*permissions);
    return run(core::op_write, std::move(w));
  }

  core::result<core::object_found> get(std::string user, const list_key& list, std::string id) {
    core::object_read r;
    r.user_id = std::move(user);
    r.list = list;
    r.id = std::move(id);
    return run(core::op_get, std::move(r));
  }

  /// alice's bucket b and collection c, with records readable by bob.
  void populate() {
    REQUIRE(std::holds_alternative<core::object_written>(write("alice", buckets, core::write_op::put, "b")));
    REQUIRE(std::holds_alternative<core::object_written>(write("alice", collections, core::write_op::put, "c")));
  }
};

int status_of(const core::failure& f) { return f.e.status; }

template <class T>
core::failure refused(const core::result<T>& r) {
  REQUIRE(std::holds_alternative<core::failure>(r));
  return std::get<core::failure>(r);
}

template <class T>
T value(const core::result<T>& r) {
  if (auto* f = std::get_if<core::failure>(&r)) FAIL("refused: " << f->e.status << " " << f->e.title);
  return std::get<T>(r);
}

} // namespace

TEST_CASE("op_write creates, op_get reads back with the writer's permissions") {
  ops_fixture f;
  f.populate();
  auto created = f.write("alice", records, core::write_op::put, "r1", R"({"title":"one"})");
  const auto& w = value(created);
  CHECK(w.created);
  CHECK(w.last_modified > 0);
  CHECK(parse(w.permissions).find("write")->as_array().size() == 1);

  const auto& found = value(f.get("alice", records, "r1"));
  CHECK(found.last_modified == w.last_modified);
  CHECK(parse(found.data).find("title")->as_string() == "one");
  CHECK(found.permissions != "{}");
  CHECK_FALSE(found.not_modified);
}

TEST_CASE("op_get refuses as the permission rules say: 401 anonymous, 403 others, 404 missing") {
  ops_fixture f;
  f.populate();
  REQUIRE(std::holds_alternative<core::object_written>(f.write("alice", records, core::write_op::put, "r1")));
  CHECK(status_of(refused(f.get("", records, "r1"))) == 401);
  CHECK(status_of(refused(f.get("bob", records, "r1"))) == 403);
  CHECK(status_of(refused(f.get("alice", records, "missing"))) == 404);
  // A missing collection is 404 (errno 111) for those who may know.
  const auto& gone = refused(f.get("alice", list_key{"/buckets/b/collections/nope", kind::record}, "r1"));
  CHECK(gone.e.status == 404);
}

TEST_CASE("a reader sees data but not the permissions of what it cannot write") {
  ops_fixture f;
  f.populate();
  REQUIRE(std::holds_alternative<core::object_written>(
    f.write("alice", records, core::write_op::put, "r1", R"({})", R"({"read":["bob"]})")));
  const auto& found = value(f.get("bob", records, "r1"));
  CHECK(found.permissions == "{}");
}

TEST_CASE("op_get answers If-None-Match and If-Match from the stored version") {
  ops_fixture f;
  f.populate();
  const auto ts = value(f.write("alice", records, core::write_op::put, "r1")).last_modified;
  core::object_read r;
  r.user_id = "alice";
  r.list = records;
  r.id = "r1";
  r.if_none_match = ts;
  CHECK(value(f.run(core::op_get, r)).not_modified);
  r.if_none_match.reset();
  r.pre.if_match = ts + 1;
  const auto& failed = refused(f.run(core::op_get, r));
  CHECK(failed.e.status == 412);
  CHECK(failed.last_modified == ts);
}

TEST_CASE("op_write answers PATCH with the shape Response-Behavior asks for") {
  ops_fixture f;
  f.populate();
  REQUIRE(std::holds_alternative<core::object_written>(
    f.write("alice", records, core::write_op::put, "r1", R"({"a":1,"b":2})")));
  core::object_write w;
  w.user_id = "alice";
  w.list = records;
  w.cmd.op = core::write_op::patch;
  w.cmd.id = "r1";
  w.cmd.data = parse(R"({"a":5})");
  w.sent = w.cmd.data;
  w.behaviour = "light";
  const auto& patched = value(f.run(core::op_write, std::move(w)));
  CHECK_FALSE(patched.created);
  const json::value data = parse(patched.data);
  CHECK(data.find("a")->as_int64() == 5);
  CHECK_FALSE(data.find("b"));
}

TEST_CASE("op_write refuses a malformed request after a missing collection, before permissions") {
  ops_fixture f;
  f.populate();
  core::object_write w;
  w.user_id = "bob";
  w.list = list_key{"/buckets/b/collections/nope", kind::record};
  w.cmd.op = core::write_op::put;
  w.cmd.id = "r1";
  w.invalid = invalid_parameter("body", "data", "bad");
  CHECK(refused(f.run(core::op_write, w)).e.status == 404);
  w.list = records;
  CHECK(refused(f.run(core::op_write, w)).e.status == 400);
}

TEST_CASE("implicit objects are created first, once, in the caller's name") {
  ops_fixture f;
  core::object_write w;
  w.user_id = "alice";
  w.list = list_key{"/buckets/personal/collections/tasks", kind::record};
  w.cmd.op = core::write_op::create;
  w.cmd.id = "r1";
  w.implicit = {{buckets, "personal"}, {list_key{"/buckets/personal", kind::collection}, "tasks"}};
  CHECK(value(f.run(core::op_write, w)).created);
  CHECK(value(f.get("alice", buckets, "personal")).permissions.find("alice") != std::string::npos);
  w.cmd.id = "r2";
  CHECK(value(f.run(core::op_write, w)).created);
  CHECK(status_of(refused(f.get("bob", buckets, "personal"))) == 403);
}

TEST_CASE("op_list pages a list in order and hands out the next token") {
  ops_fixture f;
  f.populate();
  for (const char* id : {"r1", "r2", "r3"})
    REQUIRE(std::holds_alternative<core::object_written>(f.write("alice", records, core::write_op::put, id)));
  core::list_read r;
  r.user_id = "alice";
  r.list = records;
  auto q = query::parse({}, core::now_ms());
  r.q = std::get<query::request>(q);
  r.limit = 2;
  const auto& first = value(f.run(core::op_list, r));
  REQUIRE(first.objects.size() == 2);
  CHECK(parse(first.objects[0]).find("id")->as_string() == "r3");
  REQUIRE(first.next);
  r.after = first.next;
  const auto& second = value(f.run(core::op_list, r));
  REQUIRE(second.objects.size() == 1);
  CHECK(parse(second.objects[0]).find("id")->as_string() == "r1");
  CHECK_FALSE(second.next);
  r.count_only = true;
  r.after.reset();
  CHECK(value(f.run(core::op_list, r)).total == 3);
}

TEST_CASE("op_list shows a caller only what it holds a permission on") {
  ops_fixture f;
  f.populate();
  REQUIRE(std::holds_alternative<core::object_written>(
    f.write("alice", records, core::write_op::put, "shared", R"({})", R"({"read":["bob"]})")));
  REQUIRE(std::holds_alternative<core::object_written>(f.write("alice", records, core::write_op::put, "private")));
  core::list_read r;
  r.user_id = "bob";
  r.list = records;
  r.q = std::get<query::request>(query::parse({}, core::now_ms()));
  r.limit = 10;
  const auto& page = value(f.run(core::op_list, r));
  REQUIRE(page.objects.size() == 1);
  CHECK(parse(page.objects[0]).find("id")->as_string() == "shared");
  r.user_id = "carol";
  CHECK(status_of(refused(f.run(core::op_list, r))) == 403);
}

TEST_CASE("op_delete_list removes a page and leaves tombstones; its token is single use") {
  ops_fixture f;
  f.populate();
  for (const char* id : {"r1", "r2", "r3"})
    REQUIRE(std::holds_alternative<core::object_written>(f.write("alice", records, core::write_op::put, id)));
  core::list_removal d;
  d.user_id = "alice";
  d.list = records;
  d.q = std::get<query::request>(query::parse({}, core::now_ms()));
  d.limit = 2;
  const auto& removed = value(f.run(core::op_delete_list, d));
  CHECK(removed.tombstones.size() == 2);
  for (const auto& t : removed.tombstones) CHECK(parse(t).find("deleted"));
  REQUIRE(removed.next);
  d.after = removed.next;
  CHECK(value(f.run(core::op_delete_list, d)).tombstones.size() == 1);
  CHECK(refused(f.run(core::op_delete_list, d)).e.status == 400);
  CHECK(status_of(refused(f.get("alice", records, "r1"))) == 404);
}

namespace {

/// A batch operation writing `id` and keeping the status it settled with.
core::operation put_op(ops_fixture& f, std::string id, std::shared_ptr<std::vector<int>> statuses,
                       std::optional<std::uint64_t> if_match = std::nullopt) {
  return [&f, id, statuses, if_match](core::port& p, std::function<void(int)> settled) {
    core::object_write w;
    w.user_id = "alice";
    w.list = records;
    w.cmd.op = core::write_op::put;
    w.cmd.id = id;
    w.cmd.pre.if_match = if_match;
    core::op_write(f.context(), p, std::move(w), [statuses, settled](core::result<core::object_written> r) {
      const int status = std::holds_alternative<core::failure>(r) ? std::get<core::failure>(r).e.status : 200;
      statuses->push_back(status);
      settled(status);
    });
  };
}

std::pair<std::size_t, storage::status> run_batch(core::port& p, std::vector<core::operation> ops, bool writes) {
  std::promise<std::pair<std::size_t, storage::status>> done;
  auto answer = done.get_future();
  core::op_batch(p, std::move(ops), writes, [&done](std::size_t ran, storage::status s) { done.set_value({ran, s}); });
  return answer.get();
}

} // namespace

TEST_CASE("op_batch runs a writing batch in one transaction, each operation seeing the previous ones") {
  ops_fixture f;
  f.populate();
  auto statuses = std::make_shared<std::vector<int>>();
  std::vector<core::operation> ops;
  ops.push_back(put_op(f, "r1", statuses));
  ops.push_back([&f, statuses](core::port& p, std::function<void(int)> settled) {
    core::object_read r;
    r.user_id = "alice";
    r.list = records;
    r.id = "r1";
    core::op_get(f.context(), p, std::move(r), [statuses, settled](core::result<core::object_found> found) {
      statuses->push_back(std::holds_alternative<core::object_found>(found) ? 200 : 404);
      settled(statuses->back());
    });
  });
  const auto [ran, s] = run_batch(*f.direct, std::move(ops), true);
  CHECK(ran == 2);
  CHECK(s == storage::status::ok);
  CHECK(*statuses == std::vector<int>{200, 200});
  CHECK(value(f.get("alice", records, "r1")).last_modified > 0);
}

TEST_CASE("op_batch drops what came before a 409, and keeps what follows") {
  ops_fixture f;
  f.populate();
  auto statuses = std::make_shared<std::vector<int>>();
  std::vector<core::operation> ops;
  ops.push_back(put_op(f, "before", statuses));
  ops.push_back([statuses](core::port&, std::function<void(int)> settled) {
    statuses->push_back(409);
    settled(409);
  });
  ops.push_back(put_op(f, "after", statuses));
  const auto [ran, s] = run_batch(*f.direct, std::move(ops), true);
  CHECK(ran == 3);
  CHECK(s == storage::status::ok);
  CHECK(status_of(refused(f.get("alice", records, "before"))) == 404);
  CHECK(value(f.get("alice", records, "after")).last_modified > 0);
}

TEST_CASE("op_batch keeps nothing of a batch that meets a 5xx, and runs nothing after it") {
  ops_fixture f;
  f.populate();
  auto statuses = std::make_shared<std::vector<int>>();
  std::vector<core::operation> ops;
  ops.push_back(put_op(f, "r1", statuses));
  ops.push_back([](core::port&, std::function<void(int)> settled) { settled(503); });
  ops.push_back(put_op(f, "r2", statuses));
  const auto [ran, s] = run_batch(*f.direct, std::move(ops), true);
  CHECK(ran == 2);
  CHECK(statuses->size() == 1);
  CHECK(status_of(refused(f.get("alice", records, "r1"))) == 404);
  CHECK(status_of(refused(f.get("alice", records, "r2"))) == 404);
}

TEST_CASE("op_batch runs a batch of reads one after the other on the port") {
  ops_fixture f;
  f.populate();
  REQUIRE(std::holds_alternative<core::object_written>(f.write("alice", records, core::write_op::put, "r1")));
  auto order = std::make_shared<std::vector<int>>();
  std::vector<core::operation> ops;
  for (int i = 0; i < 3; ++i)
    ops.push_back([&f, order, i](core::port& p, std::function<void(int)> settled) {
      core::object_read r;
      r.user_id = "alice";
      r.list = records;
      r.id = "r1";
      core::op_get(f.context(), p, std::move(r), [order, i, settled](core::result<core::object_found>) {
        order->push_back(i);
        settled(200);
      });
    });
  const auto [ran, s] = run_batch(*f.direct, std::move(ops), false);
  CHECK(ran == 3);
  CHECK(*order == std::vector<int>{0, 1, 2});
}

// ---- the changes plugin's broadcast --------------------------------------

namespace {

constexpr std::uint64_t minute = 60 * 1000;
constexpr std::uint64_t fake_now = 1696161600000; // 2023-10-01 12:00 UTC

/// A debounce (5 minutes) that last published `published`, at `fake_now` - 1 minute.
std::unique_ptr<core::broadcast_debounce> having_published(std::uint64_t published) {
  auto d = std::make_unique<core::broadcast_debounce>(std::chrono::seconds(300));
  d->publish(fake_now - minute, [&] { return published; });
  return d;
}

} // namespace

TEST_CASE("a broadcast publishes the newest timestamp first, then keeps it within the interval") {
  core::broadcast_debounce d(std::chrono::seconds(300));
  int asked = 0;
  auto newest = [&] {
    ++asked;
    return fake_now;
  };
  CHECK(d.publish(fake_now, newest) == fake_now);
  CHECK(d.publish(fake_now + 1000, newest) == fake_now);
  CHECK(asked == 1);
  // Published three minutes ago: storage is not even asked.
  auto recent = having_published(fake_now - 3 * minute);
  bool read = false;
  CHECK(recent->publish(fake_now, [&] { return read = true, fake_now; }) == fake_now - 3 * minute);
  CHECK_FALSE(read);
}

TEST_CASE("a broadcast ignores intermediary timestamps (debounce)") {
  core::broadcast_debounce d(std::chrono::seconds(300));
  std::vector<std::uint64_t> obtained;
  // A change every minute, from 13 to 7 minutes ago, polled a minute later.
  for (std::uint64_t age = 12; age >= 6; --age) {
    const std::uint64_t latest = fake_now - (age + 1) * minute;
    obtained.push_back(d.publish(fake_now - age * minute, [&] { return latest; }));
  }
  REQUIRE(obtained.size() == 7);
  CHECK(std::vector<std::uint64_t>(obtained.begin(), obtained.begin() + 6) ==
        std::vector<std::uint64_t>(6, obtained[0]));
  CHECK(obtained.back() == fake_now - 7 * minute);
  CHECK(obtained.back() != obtained[0]);
}

TEST_CASE("a broadcast publishes a new timestamp when it is far enough from the last or old enough itself") {
  // Nothing new since the last published, six minutes ago.
  CHECK(having_published(fake_now - 6 * minute)->publish(fake_now, [] { return fake_now - 6 * minute; }) ==
        fake_now - 6 * minute);
  // Two minutes old but four after the last: kept back.
  CHECK(having_published(fake_now - 6 * minute)->publish(fake_now, [] { return fake_now - 2 * minute; }) ==
        fake_now - 6 * minute);
  // Six minutes after the last: published.
  CHECK(having_published(fake_now - 8 * minute)->publish(fake_now, [] { return fake_now - 2 * minute; }) ==
        fake_now - 2 * minute);
  // Two minutes after the last, but itself six minutes old: published.
  CHECK(having_published(fake_now - 8 * minute)->publish(fake_now, [] { return fake_now - 6 * minute; }) ==
        fake_now - 6 * minute);
}

TEST_CASE("a broadcast forgets what it published after a day") {
  core::broadcast_debounce d(std::chrono::seconds(300));
  CHECK(d.publish(fake_now, [] { return fake_now; }) == fake_now);
  const std::uint64_t day = 24 * 60 * minute;
  // A day later what is newest now is published, even if older (the data
  // was flushed meanwhile, say).
  CHECK(d.publish(fake_now + day - minute, [] { return fake_now - 1000; }) == fake_now);
  CHECK(d.publish(fake_now + day + minute, [] { return fake_now - 1000; }) == fake_now - 1000);
}
