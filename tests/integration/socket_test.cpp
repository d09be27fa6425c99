// Integration tests of the WebSocket change feed, GET /v1/changes: one
// socket, many subscriptions, each the change feed of a list (the same
// backlog, filters and permissions as its Server-Sent Events), read by a
// real WebSocket client.
#include "harness.hpp"

#include <map>
#include <thread>

using namespace kintod_test;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";
const std::string resource = "/buckets/b/collections/c/records";

std::int64_t post(kintod_process& server, std::string_view body, const header_list& as = owner()) {
  return int_at(must(server.request("POST", records, body, as), 201), "data.last_modified");
}

/// The next message, which must come, as JSON.
kinto::json::value expect_message(change_socket& s) {
  auto m = s.next();
  if (!m) throw std::runtime_error(s.closed() ? "the socket was closed" : "no message came");
  return parse_json(*m);
}

std::string subscribe(std::string_view id, std::string_view extra = {}) {
  return std::string(R"({"action": "subscribe", "id": ")") + std::string(id) + R"(", "resource": ")" + resource + "\"" +
         std::string(extra) + "}";
}

/// Subscribes and checks the acknowledgement.
void must_subscribe(change_socket& s, std::string_view id, std::string_view extra = {}) {
  REQUIRE(s.send(subscribe(id, extra)));
  auto ack = expect_message(s);
  REQUIRE(str_at(ack, "action") == "subscribed");
  REQUIRE(str_at(ack, "subscription") == id);
}

} // namespace

TEST_CASE("a WebSocket subscription gets the backlog, then creations, updates and deletions as committed", "[socket]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const std::int64_t first = post(server, R"({"data": {"id": "r1", "n": 1}})");

  change_socket s(server.port(), "/v1/changes", owner());
  REQUIRE(s.response().status == 101);
  must_subscribe(s, "s1");

  auto backlog = expect_message(s);
  CHECK(str_at(backlog, "subscription") == "s1");
  CHECK(str_at(backlog, "action") == "create");
  CHECK(int_at(backlog, "timestamp") == first);
  CHECK(str_at(backlog, "data.id") == "r1");
  CHECK(int_at(backlog, "data.n") == 1);

  const std::int64_t created = post(server, R"({"data": {"id": "r2", "n": 2}})");
  auto e1 = expect_message(s);
  CHECK(str_at(e1, "action") == "create");
  CHECK(int_at(e1, "timestamp") == created);
  CHECK(str_at(e1, "data.id") == "r2");

  auto patched = must(server.request("PATCH", records + "/r2", R"({"data": {"n": 3}})", owner()), 200);
  auto e2 = expect_message(s);
  CHECK(str_at(e2, "action") == "update");
  CHECK(int_at(e2, "timestamp") == int_at(patched, "data.last_modified"));
  CHECK(int_at(e2, "data.n") == 3);

  auto removed = must(server.request("DELETE", records + "/r2", {}, owner()), 200);
  auto e3 = expect_message(s);
  CHECK(str_at(e3, "action") == "delete");
  CHECK(at(e3, "data.deleted").as_bool());
  CHECK(str_at(e3, "data.id") == "r2");
  CHECK(int_at(e3, "timestamp") == int_at(removed, "data.last_modified"));

  // Re-created over its tombstone: a creation again.
  must(server.request("PUT", records + "/r2", R"({"data": {"n": 4}})", owner()), 201);
  CHECK(str_at(expect_message(s), "action") == "create");

  SECTION("a batch's creations are creations") {
    must(server.request("POST", "/v1/batch",
                        R"({"requests": [{"method": "PUT", "path": "/buckets/b/collections/c/records/r9",
                                          "body": {"data": {}}}]})",
                        owner()),
         200);
    auto e = expect_message(s);
    CHECK(str_at(e, "action") == "create");
    CHECK(str_at(e, "data.id") == "r9");
  }
  SECTION("stopping the server closes the socket, going away") {
    // The client reads meanwhile, and so answers the close.
    std::optional<std::string> last;
    std::thread reader([&] { last = s.next(); });
    CHECK(server.stop() == 0);
    reader.join();
    CHECK_FALSE(last);
    CHECK(s.closed());
    CHECK(s.close_code() == 1001);
  }
}

TEST_CASE("one socket carries several subscriptions, each from its position and with its filters", "[socket]") {
  kintod_process server;
  create_collection(server, "b", "c");
  post(server, R"({"data": {"id": "old", "kind": "a"}})");
  const std::int64_t since = post(server, R"({"data": {"id": "r1", "kind": "a"}})");
  post(server, R"({"data": {"id": "r2", "kind": "b"}})");

  change_socket s(server.port(), "/v1/changes", owner());
  REQUIRE(s.response().status == 101);
  // From a position: what came after it only; an update of an object
  // older than the position is an update.
  must_subscribe(s, "since", R"(, "since": )" + std::to_string(since));
  auto resumed = expect_message(s);
  CHECK(str_at(resumed, "subscription") == "since");
  CHECK(str_at(resumed, "data.id") == "r2");
  CHECK(str_at(resumed, "action") == "create");

  // Filters and _fields of the query language.
  must_subscribe(s, "only-b", R"(, "filters": "kind=b&_fields=kind")");
  auto filtered = expect_message(s);
  CHECK(str_at(filtered, "subscription") == "only-b");
  CHECK(str_at(filtered, "data.id") == "r2");
  CHECK(keys_at(filtered, "data") == std::vector<std::string>{"id", "kind", "last_modified"});

  must(server.request("PATCH", records + "/old", R"({"data": {"kind": "b"}})", owner()), 200);
  std::map<std::string, std::string> actions;
  for (int i = 0; i < 2; ++i) {
    auto e = expect_message(s);
    CHECK(str_at(e, "data.id") == "old");
    actions[str_at(e, "subscription")] = str_at(e, "action");
  }
  CHECK(actions == std::map<std::string, std::string>{{"only-b", "update"}, {"since", "update"}});

  SECTION("after unsubscribing, no event of that subscription comes") {
    REQUIRE(s.send(R"({"action": "unsubscribe", "id": "since"})"));
    auto ack = expect_message(s);
    CHECK(str_at(ack, "action") == "unsubscribed");
    CHECK(str_at(ack, "subscription") == "since");
    post(server, R"({"data": {"id": "r3", "kind": "b"}})");
    auto e = expect_message(s);
    CHECK(str_at(e, "subscription") == "only-b");
    CHECK(str_at(e, "data.id") == "r3");
    // The id may be used again.
    must_subscribe(s, "since", R"(, "since": )" + std::to_string(int_at(e, "timestamp")));
    post(server, R"({"data": {"id": "r4", "kind": "a"}})");
    auto again = expect_message(s);
    CHECK(str_at(again, "subscription") == "since");
    CHECK(str_at(again, "data.id") == "r4");
  }
}

TEST_CASE("refused messages are answered with Kinto errors, and the socket stays open", "[socket]") {
  kintod_process server;
  create_collection(server, "b", "c");
  change_socket s(server.port(), "/v1/changes", owner());
  REQUIRE(s.response().status == 101);

  auto refused = [&](std::string_view message) {
    REQUIRE(s.send(message));
    auto e = expect_message(s);
    CHECK(str_at(e, "action") == "error");
    return e;
  };
  for (std::string_view bad : {"not json", "[1]", R"({"id": "x"})", R"({"action": "dance", "id": "x"})",
                               R"({"action": "subscribe", "resource": "/buckets"})",
                               R"({"action": "subscribe", "id": "x"})",
                               R"({"action": "subscribe", "id": "x", "resource": "/buckets?_since=1"})",
                               R"({"action": "subscribe", "id": "x", "resource": "/buckets", "since": -1})",
                               R"({"action": "subscribe", "id": "x", "resource": "/buckets", "since": "soon"})",
                               R"({"action": "unsubscribe", "id": "nobody"})"}) {
    INFO(bad);
    auto e = refused(bad);
    CHECK(int_at(e, "error.code") == 400);
    CHECK(int_at(e, "error.errno") == 107);
  }
  // The answers of the list's own read: not found, not a list, a bad filter.
  auto missing = refused(R"({"action": "subscribe", "id": "m", "resource": "/buckets/b/collections/nope/records"})");
  CHECK(str_at(missing, "subscription") == "m");
  CHECK(int_at(missing, "error.code") == 404);
  auto object = refused(R"({"action": "subscribe", "id": "o", "resource": "/buckets/b"})");
  CHECK(int_at(object, "error.errno") == 107);
  auto filter = refused(subscribe("f", R"(, "filters": "_since=abc")"));
  CHECK(int_at(filter, "error.code") == 400);

  must_subscribe(s, "dup");
  auto dup = refused(subscribe("dup"));
  CHECK(str_at(dup, "subscription") == "dup");
  // Authentication comes before any subscription.
  auto late = refused(R"({"action": "authenticate", "authorization": "Basic YTpi"})");
  CHECK(int_at(late, "error.errno") == 107);

  // Still open: a change comes through.
  post(server, R"({"data": {"id": "after"}})");
  auto e = expect_message(s);
  CHECK(str_at(e, "subscription") == "dup");
  CHECK(str_at(e, "data.id") == "after");
}

TEST_CASE("GET /v1/changes without a WebSocket handshake is 426", "[socket]") {
  kintod_process server;
  auto r = server.request("GET", "/v1/changes");
  REQUIRE_THAT(r, is_json(426));
  CHECK(r.header("Upgrade") == "websocket");
  CHECK(int_at(r.json(), "errno") == 107);
}

TEST_CASE("a socket authenticates from its handshake or a first message, and sees what its user may read",
          "[socket]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const header_list alice = auth("alice", "secret");
  must(server.request("PATCH", "/v1/buckets/b/collections/c",
                      std::string(R"({"permissions": {"read": [")") + std::string(alice_basic_id) + R"("]}})", owner()),
       200);

  SECTION("anonymous: refused as a read of the list would be") {
    change_socket s(server.port());
    REQUIRE(s.response().status == 101);
    REQUIRE(s.send(subscribe("s")));
    auto e = expect_message(s);
    CHECK(str_at(e, "action") == "error");
    CHECK(int_at(e, "error.code") == 401);
  }
  SECTION("credentials no policy accepts: anonymous, as for any request") {
    kintod_process accounts({.settings = {{"kinto.includes", "kinto.plugins.accounts"},
                                          {"multiauth.policies", "account"}}});
    change_socket s(accounts.port(), "/v1/changes", auth("nobody", "wrong"));
    REQUIRE(s.response().status == 101);
    REQUIRE(s.send(R"({"action": "subscribe", "id": "s", "resource": "/buckets"})"));
    auto e = expect_message(s);
    CHECK(str_at(e, "action") == "error");
    CHECK(int_at(e, "error.code") == 401);
    CHECK(int_at(e, "error.errno") == 104);
  }
  SECTION("a first message authenticates a browser's socket") {
    change_socket s(server.port());
    REQUIRE(s.response().status == 101);
    REQUIRE(s.send(R"({"action": "authenticate", "authorization": ")" + basic("alice", "secret") + "\"}"));
    auto ok = expect_message(s);
    CHECK(str_at(ok, "action") == "authenticated");
    CHECK(str_at(ok, "user.id") == alice_basic_id);
    must_subscribe(s, "s");
    post(server, R"({"data": {"id": "seen"}})");
    CHECK(str_at(expect_message(s), "data.id") == "seen");
  }
  SECTION("an authorization that names no user is refused") {
    change_socket s(server.port());
    REQUIRE(s.send(R"({"action": "authenticate", "authorization": "Bearer nothing"})"));
    auto e = expect_message(s);
    CHECK(str_at(e, "action") == "error");
    CHECK(int_at(e, "error.code") == 401);
  }
  SECTION("read taken away: the subscription ends saying why, the socket goes on") {
    change_socket s(server.port(), "/v1/changes", alice);
    REQUIRE(s.response().status == 101);
    must_subscribe(s, "records");
    REQUIRE(s.send(R"({"action": "subscribe", "id": "buckets", "resource": "/buckets"})"));
    auto ack = expect_message(s);
    CHECK(str_at(ack, "subscription") == "buckets");
    post(server, R"({"data": {"id": "before"}})");
    CHECK(str_at(expect_message(s), "data.id") == "before");
    must(server.request("PUT", "/v1/buckets/b/collections/c", R"({"data": {}, "permissions": {"read": []}})", owner()),
         200);
    auto end = expect_message(s);
    CHECK(str_at(end, "action") == "end");
    CHECK(str_at(end, "subscription") == "records");
    CHECK(int_at(end, "error.code") == 403);
    // Other subscriptions go on: a bucket alice may read appears in hers.
    must(server.request("PUT", "/v1/buckets/visible",
                        std::string(R"({"permissions": {"read": [")") + std::string(alice_basic_id) + R"("]}})", owner()),
         201);
    auto e = expect_message(s);
    CHECK(str_at(e, "subscription") == "buckets");
    CHECK(str_at(e, "data.id") == "visible");
  }
}

TEST_CASE("a subscription unsubscribed at once sends nothing after its acknowledgement", "[socket]") {
  kintod_process server;
  create_collection(server, "b", "c");
  post(server, R"({"data": {"id": "before"}})");
  change_socket s(server.port(), "/v1/changes", owner());
  REQUIRE(s.response().status == 101);
  must_subscribe(s, "sentinel", R"(, "filters": "id=sentinel")");
  // The unsubscribe may reach the server while the subscription's read
  // runs, or after: either way it is acknowledged, and ends it.
  REQUIRE(s.send(subscribe("brief")));
  REQUIRE(s.send(R"({"action": "unsubscribe", "id": "brief"})"));
  for (;;) {
    auto m = expect_message(s);
    CHECK(str_at(m, "subscription") == "brief");
    if (str_at(m, "action") == "unsubscribed") break;
  }
  post(server, R"({"data": {"id": "after"}})");
  post(server, R"({"data": {"id": "sentinel"}})");
  auto e = expect_message(s);
  CHECK(str_at(e, "subscription") == "sentinel");
  CHECK(str_at(e, "data.id") == "sentinel");
}

TEST_CASE("a message longer than 64 KiB closes the socket, too big", "[socket]") {
  kintod_process server;
  change_socket s(server.port(), "/v1/changes", owner());
  REQUIRE(s.response().status == 101);
  s.send(R"({"action": "subscribe", "id": ")" + std::string(70 * 1024, 'x') + R"("})");
  CHECK_FALSE(s.next());
  CHECK(s.closed());
  CHECK(s.close_code() == 1009);
  // The server goes on.
  CHECK(server.request("GET", "/v1/").status == 200);
}
