// Two kintod heads on one PostgreSQL database: concurrent writes through
// both (POST, PATCH with If-Match, DELETE, batch) lose nothing and never
// answer 409, timestamps stay unique and increasing per list, each head reads
// the other's writes at once, and `_since` polls through either head see
// every change exactly once. A head killed with SIGKILL mid-load loses
// nothing it acknowledged.
#include "harness.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace kintod_test;
using namespace kintod_pg_test;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";

/// What one writer saw. Filled by its own thread, checked by the test's.
struct writer_log {
  std::vector<std::int64_t> stamps;          ///< timestamps of its acknowledged writes, in order
  std::map<std::string, std::int64_t> live;  ///< id -> last_modified of what it left in place
  std::map<std::string, std::int64_t> gone;  ///< id -> last_modified of its deletions
  int shared_increments = 0;                 ///< acknowledged If-Match increments of the shared record
  std::vector<std::string> problems;         ///< unexpected answers, described
};

std::int64_t stamp_of(const http_response& r) { return int_at(r.json(), "data.last_modified"); }

/// One writer through `mine`, reading back through `other`.
void write_through(http_connection& mine, http_connection& other, const std::string& name, int rounds,
                   writer_log& log) {
  auto expect = [&](const http_response& r, int status, const std::string& what) {
    if (r.status == status) return true;
    log.problems.push_back(name + " " + what + ": " + r.describe());
    return false;
  };
  for (int i = 0; i < rounds; ++i) {
    auto created = mine.request("POST", records, R"({"data": {"writer": ")" + name + R"(", "round": )" +
                                                     std::to_string(i) + "}}",
                                owner());
    if (!expect(created, 201, "POST")) continue;
    const std::string id = str_at(created.json(), "data.id");
    std::int64_t ts = stamp_of(created);
    log.stamps.push_back(ts);
    // The other head reads it at once.
    auto seen = other.request("GET", records + "/" + id, {}, owner());
    if (expect(seen, 200, "GET through the other head") && stamp_of(seen) != ts)
      log.problems.push_back(name + ": the other head read an older version of " + id);

    auto patched = mine.request("PATCH", records + "/" + id, R"({"data": {"patched": true}})",
                                with(owner(), {{"If-Match", etag_of(ts)}}));
    if (!expect(patched, 200, "PATCH with If-Match")) continue;
    ts = stamp_of(patched);
    log.stamps.push_back(ts);
    log.live[id] = ts;

    if (i % 3 == 0) {
      auto deleted = other.request("DELETE", records + "/" + id, {}, with(owner(), {{"If-Match", etag_of(ts)}}));
      if (expect(deleted, 200, "DELETE with If-Match through the other head")) {
        log.live.erase(id);
        log.gone[id] = stamp_of(deleted);
        log.stamps.push_back(log.gone[id]);
      }
    }
    if (i % 5 == 0) {
      const std::string a = name + "-" + std::to_string(i) + "-a", b = name + "-" + std::to_string(i) + "-b";
      auto batch = mine.request("POST", "/v1/batch",
                                R"({"defaults": {"method": "PUT", "body": {"data": {"batch": true}}}, "requests": [)"
                                R"({"path": "/buckets/b/collections/c/records/)" +
                                  a + R"("}, {"path": "/buckets/b/collections/c/records/)" + b + R"("}]})",
                                owner());
      if (expect(batch, 200, "batch")) {
        const kinto::json::value answer = batch.json();
        const auto& responses = at(answer, "responses").as_array();
        for (std::size_t k = 0; k < responses.size(); ++k) {
          if (int_at(responses[k], "status") != 201) {
            log.problems.push_back(name + " batch answer " + kinto::json::serialize(responses[k]));
            continue;
          }
          const std::int64_t stamp = int_at(responses[k], "body.data.last_modified");
          log.stamps.push_back(stamp);
          log.live[k == 0 ? a : b] = stamp;
        }
      }
    }
    // The shared record: read, then increment if nobody wrote it since.
    for (int attempt = 0; attempt < 200; ++attempt) {
      auto current = (attempt % 2 ? other : mine).request("GET", records + "/shared", {}, owner());
      if (!expect(current, 200, "GET shared")) break;
      const std::int64_t n = int_at(current.json(), "data.n");
      auto bumped = mine.request("PATCH", records + "/shared", R"({"data": {"n": )" + std::to_string(n + 1) + "}}",
                                 with(owner(), {{"If-Match", etag_of(stamp_of(current))}}));
      if (bumped.status == 412) continue;
      if (expect(bumped, 200, "PATCH shared")) {
        ++log.shared_increments;
        log.stamps.push_back(stamp_of(bumped));
      }
      break;
    }
  }
}

/// id -> (last_modified, deleted) of a `_since` listing's entries.
using listing = std::map<std::string, std::pair<std::int64_t, bool>>;

listing entries_of(const http_response& r) {
  listing out;
  const kinto::json::value body = r.json();
  for (const auto& obj : at(body, "data").as_array()) {
    const auto* deleted = find_path(obj, "deleted");
    out[str_at(obj, "id")] = {int_at(obj, "last_modified"), deleted && deleted->is_bool() && deleted->as_bool()};
  }
  return out;
}

} // namespace

TEST_CASE("two heads on one database serve concurrent writers as one server would", "[postgresql][heads]") {
  scratch_database db;
  kintod_process a(on_database(db)), b(on_database(db));
  create_collection(a, "b", "c");
  must(b.request("PUT", records + "/shared", R"({"data": {"n": 0}})", owner()), 201);

  constexpr int writers_per_head = 4, rounds = 12;
  std::vector<writer_log> logs(2 * writers_per_head);
  std::atomic<bool> writing{true};
  std::vector<std::string> poll_problems;
  listing polled;
  std::set<std::pair<std::string, std::int64_t>> changes_seen;
  std::int64_t polled_until = 0;
  auto a_poll = a.connect(), b_poll = b.connect();
  auto poll_once = [&](int turn) {
    try {
    auto r = (turn % 2 ? *b_poll : *a_poll).request("GET", records + "?_since=" + std::to_string(polled_until), {},
                                                  owner());
    if (r.status != 200) {
      poll_problems.push_back(r.describe());
      return;
    }
    for (const auto& [id, state] : entries_of(r)) {
      if (!changes_seen.insert({id, state.first}).second)
        poll_problems.push_back("change " + id + "@" + std::to_string(state.first) + " seen twice");
      polled[id] = state;
    }
    polled_until = etag_value(r);
    } catch (const std::exception& e) {
      poll_problems.push_back(e.what());
    }
  };
  std::thread poller([&] {
    for (int turn = 0; writing.load(); ++turn) poll_once(turn);
  });
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<http_connection>> connections;
  for (int w = 0; w < 2 * writers_per_head; ++w) {
    kintod_process& mine = w % 2 ? b : a;
    kintod_process& other = w % 2 ? a : b;
    connections.push_back(mine.connect());
    connections.push_back(other.connect());
  }
  for (int w = 0; w < 2 * writers_per_head; ++w)
    threads.emplace_back([&, w] {
      try {
        write_through(*connections[2 * w], *connections[2 * w + 1], "w" + std::to_string(w), rounds, logs[w]);
      } catch (const std::exception& e) {
        logs[w].problems.push_back(e.what());
      }
    });
  for (auto& t : threads) t.join();
  writing = false;
  poller.join();
  poll_once(0);
  poll_once(1);

  for (const auto& log : logs)
    for (const auto& problem : log.problems) FAIL_CHECK(problem);
  for (const auto& problem : poll_problems) FAIL_CHECK(problem);

  // Both heads list the same thing, in which every acknowledged write is.
  auto from_a = a.request("GET", records + "?_since=0", {}, owner());
  auto from_b = b.request("GET", records + "?_since=0", {}, owner());
  REQUIRE(from_a.status == 200);
  REQUIRE(from_b.status == 200);
  const listing final_a = entries_of(from_a);
  CHECK(final_a == entries_of(from_b));
  CHECK(etag_value(from_a) == etag_value(from_b));
  int increments = 0;
  std::set<std::int64_t> acknowledged;
  for (const auto& log : logs) {
    increments += log.shared_increments;
    for (const auto& [id, ts] : log.live) CHECK(final_a.at(id) == std::make_pair(ts, false));
    for (const auto& [id, ts] : log.gone) CHECK(final_a.at(id) == std::make_pair(ts, true));
    // Each writer's writes follow one another: their timestamps increase.
    for (std::size_t i = 1; i < log.stamps.size(); ++i) CHECK(log.stamps[i] > log.stamps[i - 1]);
    for (auto ts : log.stamps) CHECK(acknowledged.insert(ts).second); // unique in the list
  }
  CHECK(increments == 2 * writers_per_head * rounds);
  CHECK(int_at(must(a.request("GET", records + "/shared", {}, owner()), 200), "data.n") == increments);
  std::set<std::int64_t> stamps;
  for (const auto& [id, state] : final_a) CHECK(stamps.insert(state.first).second);
  // The polls, through either head, ended where the listing is.
  CHECK(polled == final_a);
  CHECK(polled_until == etag_value(from_a));
}

TEST_CASE("a head killed with SIGKILL mid-load loses nothing it acknowledged", "[postgresql][heads]") {
  scratch_database db;
  kintod_process a(on_database(db)), b(on_database(db));
  create_collection(a, "b", "c");

  constexpr int writers_per_head = 3;
  std::vector<std::vector<std::string>> acknowledged(2 * writers_per_head);
  std::atomic<int> acks{0};
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<http_connection>> connections;
  for (int w = 0; w < 2 * writers_per_head; ++w) connections.push_back((w % 2 ? b : a).connect());
  std::vector<std::thread> threads;
  for (int w = 0; w < 2 * writers_per_head; ++w)
    threads.emplace_back([&, w] {
      try {
        for (int i = 0; !stop.load() && i < 2000; ++i) {
          const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
          auto r = connections[w]->request("PUT", records + "/" + id, R"({"data": {"i": )" + std::to_string(i) + "}}",
                                           owner());
          if (r.status != 201) break;
          acknowledged[w].push_back(id);
          ++acks;
        }
      } catch (const std::exception&) {
        // The connection to the killed head is gone: this writer stops.
      }
    });
  // Kill head A once writes are flowing through both heads.
  while (acks.load() < 60) std::this_thread::yield();
  a.kill_hard();
  const int at_kill = acks.load();
  while (acks.load() < at_kill + 60 && acks.load() < 6 * 2000) std::this_thread::yield();
  stop = true;
  for (auto& t : threads) t.join();

  auto check_all = [&](kintod_process& server) {
    auto listing = server.request("GET", records, {}, owner());
    REQUIRE(listing.status == 200);
    std::set<std::string> stored;
    const kinto::json::value body = listing.json();
    for (const auto& obj : at(body, "data").as_array()) stored.insert(str_at(obj, "id"));
    std::size_t count = 0;
    for (const auto& ids : acknowledged)
      for (const auto& id : ids) {
        ++count;
        CHECK(stored.count(id) == 1);
      }
    CHECK(count > 60);
  };
  check_all(b);
  a.start();
  check_all(a);
}

TEST_CASE("a stream on one head delivers the writes of every head", "[postgresql][heads]") {
  scratch_database db;
  auto options = on_database(db);
  options.settings["kinto.push_poll_milliseconds"] = "100";
  kintod_process a(options), b(on_database(db));
  create_collection(a, "b", "c");
  event_stream s(a.port(), records, owner());
  REQUIRE(s.response().status == 200);
  std::vector<std::int64_t> written;
  for (int i = 0; i < 5; ++i) {
    kintod_process& head = i % 2 ? a : b;
    written.push_back(int_at(must(head.request("POST", records, R"({"data": {}})", owner()), 201), "data.last_modified"));
  }
  auto removed = must(b.request("DELETE", records + "?_limit=1&_sort=last_modified", {}, owner()), 200);
  written.push_back(int_at(removed, "data.0.last_modified"));
  // Each one once, in the order of the database's timestamps; deletion last.
  std::vector<std::int64_t> received;
  std::string last_type;
  while (received.size() < written.size()) {
    auto e = s.next();
    REQUIRE(e);
    received.push_back(std::stoll(e->id));
    last_type = e->type;
  }
  CHECK(received == written);
  CHECK(last_type == "delete");
}

TEST_CASE("a WebSocket subscription on one head gets every head's writes, told by their announcements",
          "[postgresql][heads]") {
  scratch_database db;
  auto options = on_database(db);
  // No polling: the other head's commits are known from what it announces
  // (LISTEN/NOTIFY), with its creations.
  options.settings["kinto.push_poll_milliseconds"] = "0";
  kintod_process a(options), b(on_database(db));
  create_collection(a, "b", "c");
  change_socket s(a.port(), "/v1/changes", owner());
  REQUIRE(s.response().status == 101);
  REQUIRE(s.send(R"({"action": "subscribe", "id": "s", "resource": "/buckets/b/collections/c/records"})"));
  CHECK(str_at(parse_json(s.next().value_or("{}")), "action") == "subscribed");
  // Each write waits for its event: a poll (and so the feed) shows only the
  // latest version of what changed twice between two looks.
  auto event_of = [&](kintod_process& head, std::string_view method, const std::string& path, std::string_view body) {
    const auto answer = head.request(method, path, body, owner());
    REQUIRE(answer.status < 300);
    auto m = s.next();
    REQUIRE(m);
    const auto e = parse_json(*m);
    CHECK(str_at(e, "subscription") == "s");
    CHECK(int_at(e, "timestamp") == int_at(answer.json(), "data.last_modified"));
    return std::make_pair(str_at(e, "data.id"), str_at(e, "action"));
  };
  using seen = std::pair<std::string, std::string>;
  CHECK(event_of(a, "POST", records, R"({"data": {"id": "here"}})") == seen{"here", "create"});
  CHECK(event_of(b, "PUT", records + "/there", R"({"data": {}})") == seen{"there", "create"});
  CHECK(event_of(b, "PATCH", records + "/here", R"({"data": {"n": 1}})") == seen{"here", "update"});
  CHECK(event_of(b, "DELETE", records + "/there", {}) == seen{"there", "delete"});
}
