// Unit tests of core/: access control lists decoded once, the caller's
// principals and the permission decisions, over a temporary store written
// through the write service. No network.
#include "core/access.hpp"
#include "core/objects.hpp"
#include "core/port.hpp"
#include "parse_json.hpp"
#include "store_fixture.hpp"

#include <catch2/catch.hpp>

#include <future>

using namespace kinto;

namespace {

using test::parse;

actors::write_command put(std::string id, std::string_view data = "{}",
                          std::optional<std::string_view> permissions = std::nullopt) {
  actors::write_command cmd;
  cmd.op = actors::write_op::put;
  cmd.id = std::move(id);
  cmd.author = "account:owner";
  cmd.data = parse(data);
  if (permissions) cmd.permissions = parse(*permissions);
  return cmd;
}

/// The store and write path, written through the direct port.
struct store_fixture : test::store_fixture {
  void write(const list_key& list, actors::write_command cmd) {
    core::direct_port port(*store, *writes, [](std::function<void()> work) {
      work();
      return true;
    });
    std::promise<actors::write_outcome> done;
    auto outcome = done.get_future();
    port.write(
      list, std::move(cmd), [&done](actors::write_outcome o) { done.set_value(std::move(o)); }, nullptr,
      [](std::function<void()> work) { work(); });
    REQUIRE_FALSE(outcome.get().failure);
  }
};

const list_key buckets{"", kind::bucket};
const list_key collections{"/buckets/b", kind::collection};
const list_key groups{"/buckets/b", kind::group};
const list_key records{"/buckets/b/collections/c", kind::record};

bool holds(const core::caller& who, std::string_view principal) {
  return std::find(who.principals.begin(), who.principals.end(), principal) != who.principals.end();
}

} // namespace

TEST_CASE("an ACL is decoded once into its names and principals") {
  const auto acl = core::acl::decode(R"({"read":["system.Everyone"],"write":["account:a","account:b"]})");
  REQUIRE(acl.entries().size() == 2);
  CHECK(acl.principals("write").size() == 2);
  const std::vector<std::string> bob{"account:b"};
  CHECK(acl.grants("write", bob));
  CHECK_FALSE(acl.grants("read", bob));
  CHECK_FALSE(acl.grants("collection:create", bob));
  CHECK(acl.principals("missing").empty());
}

TEST_CASE("absent or malformed ACL text is the empty ACL") {
  CHECK(core::acl::decode("").empty());
  CHECK(core::acl::decode("{}").empty());
  CHECK(core::acl::decode("not json").empty());
  CHECK(core::acl::decode("[1]").empty());
  const auto odd = core::acl::decode(R"({"read":"system.Everyone","write":[1,"account:a"]})");
  REQUIRE(odd.entries().size() == 1);
  CHECK(odd.principals("write").size() == 1);
}

TEST_CASE("the caller's principals follow its groups, as acknowledged") {
  store_fixture f;
  f.write(buckets, put("b"));
  CHECK_FALSE(holds(core::resolve_caller("account:carol", f.store->read()), "/buckets/b/groups/g"));
  f.write(groups, put("g", R"({"members":["account:carol"]})"));
  const auto member = core::resolve_caller("account:carol", f.store->read());
  CHECK(member.principals.front() == "account:carol");
  CHECK(holds(member, "system.Authenticated"));
  CHECK(holds(member, "/buckets/b/groups/g"));
  f.write(groups, put("g", R"({"members":[]})"));
  CHECK_FALSE(holds(core::resolve_caller("account:carol", f.store->read()), "/buckets/b/groups/g"));
}

TEST_CASE("groups with system.Authenticated as member count for every authenticated caller") {
  store_fixture f;
  f.write(buckets, put("b"));
  f.write(groups, put("all", R"({"members":["system.Authenticated"]})"));
  CHECK(holds(core::resolve_caller("account:anyone", f.store->read()), "/buckets/b/groups/all"));
  CHECK_FALSE(holds(core::resolve_caller("", f.store->read()), "/buckets/b/groups/all"));
}

TEST_CASE("anonymous callers hold only system.Everyone") {
  store_fixture f;
  CHECK(core::resolve_caller("", f.store->read()).principals == std::vector<std::string>{"system.Everyone"});
}

TEST_CASE("a permission on an ancestor grants the action on the object") {
  store_fixture f;
  f.write(buckets, put("b", "{}", R"({"read":["account:reader"]})"));
  f.write(collections, put("c"));
  f.write(records, put("r", "{}", R"({"write":["account:editor"]})"));
  const core::principal_settings none;
  auto snap = f.store->read();
  const auto reader = core::resolve_caller("account:reader", snap);
  const auto editor = core::resolve_caller("account:editor", snap);
  const auto stranger = core::resolve_caller("account:stranger", snap);
  core::decider as_reader(snap, reader, none), as_editor(snap, editor, none), as_stranger(snap, stranger, none);
  CHECK(as_reader.may(records, "r", permissions::action::read));
  CHECK(as_reader.may(records, "", permissions::action::read_all));
  CHECK_FALSE(as_reader.may(records, "r", permissions::action::write));
  CHECK(as_editor.may(records, "r", permissions::action::write));
  CHECK(as_editor.may(records, "r", permissions::action::read)); // write implies read
  CHECK_FALSE(as_editor.may(records, "", permissions::action::read_all));
  CHECK_FALSE(as_stranger.may(records, "r", permissions::action::read));
  // The writer of the bucket (its creator) may do everything below it.
  const auto owner = core::resolve_caller("account:owner", snap);
  core::decider as_owner(snap, owner, none);
  CHECK(as_owner.may(records, "", permissions::action::write_all));
  CHECK(as_owner.may(records, "", permissions::action::create));
}

TEST_CASE("a principals setting grants the action everywhere") {
  store_fixture f;
  auto snap = f.store->read();
  core::principal_settings settings;
  settings.by_name["bucket_create_principals"] = {"system.Authenticated"};
  const auto alice = core::resolve_caller("account:alice", snap);
  const auto anonymous = core::resolve_caller("", snap);
  CHECK(core::decider(snap, alice, settings).may(buckets, "", permissions::action::create));
  CHECK_FALSE(core::decider(snap, anonymous, settings).may(buckets, "", permissions::action::create));
  CHECK_FALSE(core::decider(snap, alice, core::principal_settings{}).may(buckets, "", permissions::action::create));
}

TEST_CASE("holding finds the objects of a list a caller may see through their own ACL") {
  store_fixture f;
  f.write(buckets, put("b"));
  f.write(collections, put("c"));
  f.write(records, put("mine", "{}", R"({"read":["account:bob"]})"));
  f.write(records, put("theirs"));
  // A grant deeper down does not count for this list.
  f.write(groups, put("g", R"({"members":[]})", R"({"write":["account:carol"]})"));
  auto snap = f.store->read();
  const core::principal_settings none;
  const auto bob = std::make_shared<core::caller>(core::resolve_caller("account:bob", snap));
  const auto carol = core::resolve_caller("account:carol", snap);
  const std::vector<std::string_view> names = permissions::listing_names(kind::record);
  CHECK(core::decider(snap, *bob, none).holds_on_some(records, names));
  CHECK_FALSE(core::decider(snap, carol, none).holds_on_some(records, names));
  CHECK_FALSE(core::decider(snap, carol, none).holds_on_some(collections, names));
  const std::vector<std::string_view> write_only{"write"};
  CHECK_FALSE(core::decider(snap, *bob, none).holds_on_some(records, write_only));
  auto visible = core::holding(snap, bob, records, names);
  CHECK(visible("mine"));
  CHECK_FALSE(visible("theirs"));
  CHECK_FALSE(visible("absent"));
}

TEST_CASE("a decider reads each ACL once, however many questions use it") {
  store_fixture f;
  f.write(buckets, put("b"));
  f.write(collections, put("c"));
  auto snap = f.store->read();
  const auto who = core::resolve_caller("account:nobody", snap);
  const core::principal_settings none;
  core::decider access(snap, who, none);
  const auto before = snap.permission_lookups();
  for (int i = 0; i < 5; ++i) {
    CHECK_FALSE(access.may(records, "r", permissions::action::read));
    CHECK_FALSE(access.may(records, "r", permissions::action::write));
  }
  // The record, its collection and its bucket: three ACLs, read once each.
  CHECK(snap.permission_lookups() - before == 3);
}

TEST_CASE("a write needs create, write or read on the list, as upstream decides") {
  using actors::write_op;
  using permissions::action;
  const actors::preconditions none;
  actors::preconditions if_none_match;
  if_none_match.if_none_match_any = true;
  CHECK(core::needed_for_write(write_op::put, false, none) == action::create);
  CHECK(core::needed_for_write(write_op::put, true, none) == action::write);
  CHECK(core::needed_for_write(write_op::put, true, if_none_match) == action::create);
  CHECK(core::needed_for_write(write_op::patch, true, none) == action::write);
  CHECK(core::needed_for_write(write_op::remove, true, none) == action::write);
  // Learning that an object is missing is reading the list.
  CHECK(core::needed_for_write(write_op::patch, false, none) == action::read_all);
  CHECK(core::needed_for_write(write_op::remove, false, none) == action::read_all);
}

TEST_CASE("accounts are seen and changed by themselves and administrators") {
  core::rules r;
  r.account_write_principals = {"account:admin"};
  r.account_read_principals = {"account:auditor"};
  r.account_create_principals = {"system.Everyone"};
  const core::caller admin{"account:admin", {"account:admin", "system.Everyone", "system.Authenticated"}};
  const core::caller auditor{"account:auditor", {"account:auditor", "system.Everyone", "system.Authenticated"}};
  const core::caller alice{"account:alice", {"account:alice", "system.Everyone", "system.Authenticated"}};
  const core::caller anonymous{"", {"system.Everyone"}};
  CHECK_FALSE(core::account_access(r, alice, "alice", true));
  CHECK(core::account_access(r, alice, "bob", false)->status == 403);
  CHECK(core::account_access(r, anonymous, "bob", false)->status == 401);
  CHECK_FALSE(core::account_access(r, admin, "bob", true));
  CHECK_FALSE(core::account_access(r, auditor, "bob", false));
  CHECK(core::account_access(r, auditor, "bob", true)->status == 403);
  // Sign-up: anyone creates an account, but an authenticated caller only its own.
  CHECK_FALSE(core::account_creation(r, anonymous, "new"));
  CHECK_FALSE(core::account_creation(r, admin, "new"));
  CHECK(core::account_creation(r, alice, "new")->status == 400);
  r.account_create_principals.clear();
  CHECK(core::account_creation(r, anonymous, "new")->status == 401);
}

TEST_CASE("an account's password is required on PUT and must be a string") {
  CHECK(core::account_password(true, std::nullopt)->status == 400);
  CHECK(core::account_password(true, parse(R"({"password":1})"))->status == 400);
  CHECK_FALSE(core::account_password(true, parse(R"({"password":"s"})")));
  CHECK_FALSE(core::account_password(false, parse(R"({"other":1})")));
  CHECK(core::account_password(false, parse(R"({"password":[]})"))->status == 400);
}

TEST_CASE("clear passwords are found in data and in JSON-Patch operations") {
  actors::write_command cmd;
  cmd.data = parse(R"({"password":"a"})");
  cmd.patch = parse(R"([{"op":"add","path":"/data/password","value":"b"},
                        {"op":"replace","path":"/data","value":{"password":"c"}},
                        {"op":"add","path":"/data/other","value":"d"}])");
  const auto clear = core::clear_passwords(cmd);
  REQUIRE(clear.size() == 3);
  *clear[1] = json::value("hashed");
  CHECK(json::serialize(cmd.patch->as_array()[0]) == R"({"op":"add","path":"/data/password","value":"hashed"})");
}

TEST_CASE("anonymous reads are cached as settings and the collection allow") {
  store_fixture f;
  f.write(buckets, put("b"));
  f.write(collections, put("c", R"({"cache_expires":30})"));
  auto snap = f.store->read();
  core::rules r;
  const core::caller anonymous{"", {"system.Everyone"}};
  const core::caller alice{"account:alice", {"account:alice", "system.Everyone", "system.Authenticated"}};
  CHECK(core::cache_seconds(r, anonymous, snap, records) == 30);
  CHECK_FALSE(core::cache_seconds(r, alice, snap, records));
  r.cache_expires["b.c.record_cache_expires_seconds"] = 60;
  CHECK(core::cache_seconds(r, anonymous, snap, records) == 60);
  CHECK_FALSE(core::cache_seconds(r, anonymous, snap, buckets));
  r.cache_expires["bucket_cache_expires_seconds"] = 10;
  CHECK(core::cache_seconds(r, anonymous, snap, buckets) == 10);
}

TEST_CASE("PATCH responses are shaped by Response-Behavior") {
  const auto sent = parse(R"({"a":1,"b":2,"c":3})");
  const std::string previous = R"({"a":1,"b":1})";
  const std::string stored = R"({"a":1,"b":2,"c":4,"id":"x"})";
  CHECK(core::shape_patch_response("full", sent, previous, stored) == stored);
  CHECK(core::shape_patch_response("light", sent, previous, stored) == R"({"b":2,"c":4})");
  CHECK(core::shape_patch_response("diff", sent, previous, stored) == R"({"c":4})");
}

TEST_CASE("a decider told an object's ACL does not read it again") {
  store_fixture f;
  f.write(buckets, put("b"));
  f.write(collections, put("c"));
  f.write(records, put("r", "{}", R"({"read":["account:reader"]})"));
  auto snap = f.store->read();
  const auto reader = core::resolve_caller("account:reader", snap);
  const core::principal_settings none;
  const core::current_state target = core::read_current(snap, records, "r");
  REQUIRE(target.exists());
  core::decider access(snap, reader, none);
  access.know(records.object_uri("r"), core::acl::from(target.permissions));
  const auto before = snap.permission_lookups();
  CHECK(access.may(records, "r", permissions::action::read));
  CHECK_FALSE(access.may(records, "r", permissions::action::write));
  // The collection and the bucket only: the record's ACL was known.
  CHECK(snap.permission_lookups() - before == 2);
}

TEST_CASE("a write planned on what its caller read is planned again when another write came first") {
  store_fixture f;
  f.write(buckets, put("b"));
  f.write(collections, put("c"));
  f.write(records, put("r", R"({"v":0})"));
  // The caller reads the record, then another write changes it.
  auto snap = f.store->read();
  const core::current_state target = core::read_current(snap, records, "r");
  actors::write_command first;
  first.op = actors::write_op::patch;
  first.id = "r";
  first.author = "account:owner";
  first.data = parse(R"({"a":1})");
  f.write(records, first);
  actors::write_command second = first;
  second.data = parse(R"({"b":2})");
  core::direct_port port(*f.store, *f.writes, [](std::function<void()> work) {
    work();
    return true;
  });
  std::promise<actors::write_outcome> done;
  auto outcome = done.get_future();
  const core::target_read read{snap, target};
  port.write(
    records, second, [&done](actors::write_outcome o) { done.set_value(std::move(o)); }, &read,
    [](std::function<void()> work) { work(); });
  const auto out = outcome.get();
  REQUIRE_FALSE(out.failure);
  const auto stored = parse(f.store->read().get(records, "r")->data);
  CHECK(stored.find("a"));
  CHECK(stored.find("b"));
  CHECK(stored.find("v"));
}
