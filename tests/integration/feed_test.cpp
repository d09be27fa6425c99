// Integration tests of the change feed: a plural GET with `Accept:
// text/event-stream` streams what a `_since` poll returns, then every
// committed change, as Server-Sent Events read by a real client.
#include "harness.hpp"

#include <map>
#include <set>

using namespace kintod_test;
using namespace std::chrono_literals;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";

std::int64_t post(kintod_process& server, std::string_view body, const header_list& as = owner()) {
  return int_at(must(server.request("POST", records, body, as), 201), "data.last_modified");
}

/// The next event, which must come.
event_stream::event expect_event(event_stream& s) {
  auto e = s.next();
  if (!e) throw std::runtime_error(s.ended() ? "the stream ended" : "no event came");
  return *e;
}

std::int64_t ts_of(const event_stream::event& e) { return int_at(parse_json(e.data), "last_modified"); }

} // namespace

TEST_CASE("a plural GET asking for text/event-stream sends the backlog, then each change as committed", "[feed]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const std::int64_t first = post(server, R"({"data": {"n": 1}})");
  const std::int64_t second = post(server, R"({"data": {"n": 2}})");

  event_stream s(server.port(), records, owner());
  REQUIRE(s.response().status == 200);
  CHECK(s.response().header("Content-Type") == "text/event-stream");
  CHECK(s.response().header("Cache-Control") == "no-cache");

  // The backlog, oldest first, as the objects a poll returns.
  auto e1 = expect_event(s);
  CHECK(e1.type == "change");
  CHECK(e1.id == std::to_string(first));
  CHECK(int_at(parse_json(e1.data), "n") == 1);
  auto e2 = expect_event(s);
  CHECK(e2.id == std::to_string(second));

  // Live: a creation, an update, a deletion.
  const std::int64_t third = post(server, R"({"data": {"id": "r3", "n": 3}})");
  auto e3 = expect_event(s);
  CHECK(e3.type == "change");
  CHECK(e3.id == std::to_string(third));
  CHECK(str_at(parse_json(e3.data), "id") == "r3");

  auto patched = must(server.request("PATCH", records + "/r3", R"({"data": {"n": 4}})", owner()), 200);
  auto e4 = expect_event(s);
  CHECK(e4.id == std::to_string(int_at(patched, "data.last_modified")));
  CHECK(int_at(parse_json(e4.data), "n") == 4);

  auto removed = must(server.request("DELETE", records + "/r3", {}, owner()), 200);
  auto e5 = expect_event(s);
  CHECK(e5.type == "delete");
  const auto tombstone = parse_json(e5.data);
  CHECK(at(tombstone, "deleted").as_bool());
  CHECK(str_at(tombstone, "id") == "r3");
  CHECK(e5.id == std::to_string(int_at(removed, "data.last_modified")));

  SECTION("the root view says the feed is there") {
    auto hello = must(server.request("GET", "/v1/"), 200);
    CHECK(int_at(hello, "capabilities.push.heartbeat_seconds") == 30);
    CHECK(str_at(hello, "capabilities.push.websocket") == "ws://127.0.0.1:" + std::to_string(server.port()) + "/v1/changes");
  }
  SECTION("without the header the endpoint answers as always") {
    auto listed = server.request("GET", records, {}, owner());
    REQUIRE_THAT(listed, is_json(200));
    CHECK(at(listed.json(), "data").as_array().size() == 2);
  }
  SECTION("stopping the server ends the stream properly") {
    CHECK(server.stop() == 0);
    CHECK_FALSE(s.next());
    CHECK(s.ended());
  }
}

TEST_CASE("_since and Last-Event-ID resume exactly after an event, tombstones included", "[feed]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const std::int64_t a = post(server, R"({"data": {"id": "a"}})");
  post(server, R"({"data": {"id": "b"}})");
  must(server.request("DELETE", records + "/b", {}, owner()), 200);
  const std::int64_t c = post(server, R"({"data": {"id": "c"}})");

  SECTION("without a position, the backlog has no tombstones") {
    event_stream s(server.port(), records, owner());
    CHECK(str_at(parse_json(expect_event(s).data), "id") == "a");
    CHECK(str_at(parse_json(expect_event(s).data), "id") == "c");
  }
  SECTION("_since") {
    event_stream s(server.port(), records + "?_since=" + std::to_string(a), owner());
    auto deleted = expect_event(s);
    CHECK(deleted.type == "delete");
    CHECK(str_at(parse_json(deleted.data), "id") == "b");
    CHECK(expect_event(s).id == std::to_string(c));
  }
  SECTION("Last-Event-ID wins over _since, as a reconnecting client sends both") {
    event_stream s(server.port(), records + "?_since=0", with(owner(), {{"Last-Event-ID", std::to_string(c - 1)}}));
    CHECK(expect_event(s).id == std::to_string(c));
    const std::int64_t d = post(server, R"({"data": {"id": "d"}})");
    CHECK(expect_event(s).id == std::to_string(d));
  }
  SECTION("a malformed Last-Event-ID is a 400") {
    event_stream s(server.port(), records, with(owner(), {{"Last-Event-ID", "abc"}}));
    CHECK(s.response().status == 400);
  }
}

TEST_CASE("a stream keeps to the query's filters and _fields", "[feed]") {
  kintod_process server;
  create_collection(server, "b", "c");
  event_stream s(server.port(), records + "?status=done&_fields=status", owner());
  REQUIRE(s.response().status == 200);
  post(server, R"({"data": {"status": "todo", "title": "x"}})");
  const std::int64_t done = post(server, R"({"data": {"status": "done", "title": "y"}})");
  auto e = expect_event(s);
  CHECK(e.id == std::to_string(done));
  const auto shown = parse_json(e.data);
  CHECK(str_at(shown, "status") == "done");
  CHECK_FALSE(find_path(shown, "title"));
}

TEST_CASE("a stream shows only what the caller may read, and ends when it may no longer", "[feed]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const header_list alice = auth("alice", "secret");

  SECTION("no read permission: refused before any stream") {
    event_stream anonymous(server.port(), records);
    CHECK(anonymous.response().status == 401);
    event_stream refused(server.port(), records, alice);
    CHECK(refused.response().status == 403);
    CHECK(int_at(parse_json(refused.response().body), "errno") == 121);
  }
  SECTION("read on some records: only those") {
    // Alice may create records: she sees those she holds a permission on.
    must(server.request("PATCH", "/v1/buckets/b/collections/c",
                        R"({"permissions": {"record:create": ["system.Authenticated"]}})", owner()),
         200);
    event_stream s(server.port(), records, alice);
    REQUIRE(s.response().status == 200);
    post(server, R"({"data": {"id": "hidden"}})");
    post(server, R"({"data": {"id": "mine"}})", alice);
    auto e = expect_event(s);
    CHECK(str_at(parse_json(e.data), "id") == "mine");
  }
  SECTION("read taken away: the stream ends saying why") {
    must(server.request("PATCH", "/v1/buckets/b/collections/c",
                        std::string(R"({"permissions": {"read": [")") + std::string(alice_basic_id) + R"("]}})", owner()),
         200);
    event_stream s(server.port(), records, alice);
    REQUIRE(s.response().status == 200);
    const std::int64_t seen = post(server, R"({"data": {}})");
    CHECK(expect_event(s).id == std::to_string(seen));
    must(server.request("PUT", "/v1/buckets/b/collections/c", R"({"data": {}, "permissions": {"read": []}})", owner()),
         200);
    auto end = expect_event(s);
    CHECK(end.type == "end");
    CHECK(end.id.empty());
    CHECK(int_at(parse_json(end.data), "code") == 403);
    CHECK_FALSE(s.next());
    CHECK(s.ended());
  }
  SECTION("the collection deleted: the stream ends saying why") {
    event_stream s(server.port(), records, owner());
    REQUIRE(s.response().status == 200);
    must(server.request("DELETE", "/v1/buckets/b/collections/c", {}, owner()), 200);
    auto end = expect_event(s);
    CHECK(end.type == "end");
    CHECK(int_at(parse_json(end.data), "code") == 404);
    CHECK_FALSE(s.next());
  }
}

TEST_CASE("every plural endpoint with _since streams: buckets, collections, groups, history", "[feed]") {
  kintod_process server({.settings = {{"kinto.includes", "kinto.plugins.history"}}});
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  event_stream collections(server.port(), "/v1/buckets/b/collections", owner());
  event_stream groups(server.port(), "/v1/buckets/b/groups", owner());
  event_stream history(server.port(), "/v1/buckets/b/history", owner());
  event_stream buckets(server.port(), "/v1/buckets", owner());
  CHECK(str_at(parse_json(expect_event(buckets).data), "id") == "b");
  must(server.request("PUT", "/v1/buckets/b/collections/c", {}, owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/groups/g", R"({"data": {"members": []}})", owner()), 201);
  CHECK(str_at(parse_json(expect_event(collections).data), "id") == "c");
  CHECK(str_at(parse_json(expect_event(groups).data), "id") == "g");
  // The history's backlog holds the bucket's creation first.
  CHECK(str_at(parse_json(expect_event(history).data), "resource_name") == "bucket");
  CHECK(str_at(parse_json(expect_event(history).data), "resource_name") == "collection");
}

TEST_CASE("idle streams get heartbeats, and subscribers are capped", "[feed]") {
  kintod_process server({.settings = {{"kinto.push_heartbeat_seconds", "1"}, {"kinto.push_max_subscribers", "1"}}});
  create_collection(server, "b", "c");
  event_stream s(server.port(), records, owner());
  REQUIRE(s.response().status == 200);
  CHECK(s.next_comment());
  event_stream second(server.port(), records, owner());
  CHECK(second.response().status == 503);
  CHECK(int_at(parse_json(second.response().body), "errno") == 201);
  // Once the first goes, its place is free again.
  s.close();
  std::optional<int> status;
  for (int attempt = 0; attempt < 200 && status != 200; ++attempt) {
    event_stream again(server.port(), records, owner());
    status = again.response().status;
  }
  CHECK(status == 200);
}

TEST_CASE("subscribers that connect, disconnect and resume while writers write see each change once, in order",
          "[feed]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const std::int64_t start = post(server, R"({"data": {"id": "seed"}})");

  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&server, w] {
      auto conn = server.connect();
      for (int i = 0; i < 40; ++i) {
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i % 7);
        if (i % 5 == 4) {
          conn->request("DELETE", records + "/" + id, {}, owner());
        } else {
          conn->request("PUT", records + "/" + id, R"({"data": {"i": )" + std::to_string(i) + "}}", owner());
        }
      }
    });
  }

  // Three subscribers from `start`, each reconnecting with Last-Event-ID
  // after a few events.
  struct seen {
    std::vector<std::int64_t> stamps;
    std::map<std::string, std::pair<std::int64_t, bool>> latest; // id -> (ts, deleted)
  };
  std::vector<seen> subscribers(3);
  auto consume = [&](seen& out, std::string last_id, std::size_t count) {
    event_stream s(server.port(), records + "?_since=" + std::to_string(start),
                   last_id.empty() ? owner() : with(owner(), {{"Last-Event-ID", last_id}}));
    if (s.response().status != 200) throw std::runtime_error("stream refused: " + s.response().describe());
    std::string last = last_id;
    for (std::size_t i = 0; i < count; ++i) {
      auto e = s.next(2s);
      if (!e) break;
      const auto object = parse_json(e->data);
      out.stamps.push_back(std::stoll(e->id));
      out.latest[str_at(object, "id")] = {std::stoll(e->id), e->type == "delete"};
      last = e->id;
    }
    return last;
  };
  for (std::size_t round = 0; round < 4; ++round)
    for (std::size_t k = 0; k < subscribers.size(); ++k) {
      auto& sub = subscribers[k];
      std::string last = sub.stamps.empty() ? "" : std::to_string(sub.stamps.back());
      consume(sub, last, 5 + k * 3);
    }
  for (auto& t : writers) t.join();

  // What a poll from `start` returns now.
  std::map<std::string, std::pair<std::int64_t, bool>> polled;
  const auto poll = must(server.request("GET", records + "?_since=" + std::to_string(start), {}, owner()), 200);
  for (const auto& o : at(poll, "data").as_array())
    polled[str_at(o, "id")] = {int_at(o, "last_modified"), o.find("deleted") != nullptr};
  const std::int64_t final_ts = etag_value(server.request("GET", records, {}, owner()));

  for (auto& sub : subscribers) {
    // Drain to the end: everything up to the list's timestamp.
    while (sub.stamps.empty() || sub.stamps.back() < final_ts)
      if (consume(sub, sub.stamps.empty() ? "" : std::to_string(sub.stamps.back()), 1000).empty()) break;
    // Never twice, always in order.
    CHECK(std::adjacent_find(sub.stamps.begin(), sub.stamps.end(),
                             [](std::int64_t x, std::int64_t y) { return y <= x; }) == sub.stamps.end());
    // The latest state of each object equals what the poll returns.
    CHECK(sub.latest == polled);
  }
}

TEST_CASE("a subscriber that falls behind by more than push_max_buffer_bytes is cut, and resumes where it was",
          "[feed]") {
  kintod_process server({.settings = {{"kinto.push_max_buffer_bytes", "1024"}}});
  create_collection(server, "b", "c");
  // A client that reads nothing while the writes go on, with a small
  // receive buffer: the server's queue for it fills, and more comes.
  event_stream slow(server.port(), records, owner(), 16 * 1024);
  REQUIRE(slow.response().status == 200);
  const std::string padding(256 * 1024, 'x');
  std::vector<std::string> written;
  for (int i = 0; i < 80; ++i) {
    const std::string id = "r" + std::to_string(i);
    must(server.request("PUT", records + "/" + id, R"({"data": {"pad": ")" + padding + "\"}}", owner()), 201);
    written.push_back(id);
  }
  // What was queued comes, then the end, saying why.
  std::vector<std::string> received;
  std::string last_id;
  std::optional<event_stream::event> end;
  while (auto e = slow.next()) {
    if (e->type == "end") {
      end = e;
      break;
    }
    CHECK(e->type == "change");
    received.push_back(str_at(parse_json(e->data), "id"));
    last_id = e->id;
  }
  REQUIRE(end);
  const auto reason = parse_json(end->data);
  CHECK(int_at(reason, "code") == 503);
  CHECK(int_at(reason, "errno") == 201);
  CHECK_FALSE(slow.next());
  CHECK(slow.ended());
  REQUIRE(received.size() < written.size());
  REQUIRE_FALSE(last_id.empty());

  // Resumed from its last event: the rest, each once, in order.
  event_stream resumed(server.port(), records, with(owner(), {{"Last-Event-ID", last_id}}));
  REQUIRE(resumed.response().status == 200);
  while (received.size() < written.size()) {
    auto e = resumed.next();
    REQUIRE(e);
    received.push_back(str_at(parse_json(e->data), "id"));
  }
  CHECK(received == written);
}
