// Integration tests of the kintod process: command line and ini errors,
// environment overrides, signals, running without an ini, and durability of
// acknowledged writes across SIGKILL and restarts.
#include "harness.hpp"

#include "../unit/notify_socket.hpp"

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

using namespace kintod_test;
using kinto::json::value;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";

// Runs kintod on an ini file with `text` and the default flags.
run_result run_with_ini(const std::string& text) {
  temp_dir dir;
  const std::string ini = dir.path() + "/kinto.ini";
  write_file(ini, text);
  return run_kintod({"--ini", ini, "--host", "127.0.0.1", "--port", "0"});
}

std::string settings_ini(std::map<std::string, std::string> overrides, const std::string& data_dir) {
  auto settings = default_settings(data_dir);
  for (auto& [k, v] : overrides) settings[k] = v;
  return ini_text(settings);
}

std::size_t page_size(kintod_process& server) {
  create_collection(server, "b", "c");
  for (int i = 0; i < 5; ++i) must(server.request("POST", records, R"({"data": {}})", owner()), 201);
  return at(must(server.request("GET", records, {}, owner()), 200), "data").as_array().size();
}

struct acknowledged_write {
  std::string id;
  value data; // the data object of the 201 response
};

} // namespace

TEST_CASE("an unknown command-line flag makes kintod exit with status 2", "[server]") {
  std::vector<std::string> args;
  SECTION("long flag") { args = {"--bogus"}; }
  SECTION("short flag") { args = {"-z"}; }
  SECTION("unknown flag after valid ones") { args = {"--host", "127.0.0.1", "--port", "0", "--frobnicate", "1"}; }
  auto result = run_kintod(args);
  INFO(args.back());
  INFO(result.output);
  CHECK(result.exit_status == 2);
  CHECK_FALSE(result.output.empty());
}

TEST_CASE("an unknown storage backend makes kintod exit with status 2", "[server]") {
  temp_dir data;
  auto result = run_with_ini(settings_ini({{"kinto.storage_backend", "postgresql"}}, data.path()));
  INFO(result.output);
  CHECK(result.exit_status == 2);
  CHECK_FALSE(result.output.empty());
}

TEST_CASE("a malformed ini file makes kintod exit with status 2", "[server]") {
  temp_dir data;
  std::string text;
  SECTION("an unclosed section header") { text = "[app:main\nkinto.storage_url = " + data.path() + "\n"; }
  SECTION("a setting before any section") { text = "paginate_by = 2\n" + settings_ini({}, data.path()); }
  SECTION("a line without a delimiter") { text = settings_ini({}, data.path()) + "this line is not a setting\n"; }
  SECTION("the same setting with and without prefix, different values") {
    text = settings_ini({{"kinto.paginate_by", "2"}, {"paginate_by", "3"}}, data.path());
  }
  auto result = run_with_ini(text);
  INFO(text);
  INFO(result.output);
  CHECK(result.exit_status == 2);
  CHECK_FALSE(result.output.empty());
}

TEST_CASE("a missing ini file makes kintod fail", "[server]") {
  temp_dir dir;
  auto result = run_kintod({"--ini", dir.path() + "/absent.ini", "--host", "127.0.0.1", "--port", "0"});
  INFO(result.output);
  CHECK(result.exit_status > 0);
  CHECK_FALSE(result.output.empty());
}

TEST_CASE("settings come from the ini and KINTO_ environment variables override them", "[server]") {
  SECTION("paginate_by in the ini") {
    kintod_process server({.settings = {{"kinto.paginate_by", "3"}}});
    CHECK(page_size(server) == 3);
  }
  SECTION("KINTO_PAGINATE_BY alone") {
    kintod_process server({.env = {{"KINTO_PAGINATE_BY", "2"}}});
    CHECK(page_size(server) == 2);
  }
  SECTION("KINTO_PAGINATE_BY over the ini value") {
    kintod_process server({.settings = {{"kinto.paginate_by", "4"}}, .env = {{"KINTO_PAGINATE_BY", "2"}}});
    CHECK(page_size(server) == 2);
  }
}

TEST_CASE("SIGTERM and SIGINT stop kintod with status 0", "[server]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::unique_ptr<http_connection> idle;
  int signal_number = SIGTERM;
  SECTION("SIGTERM") {}
  SECTION("SIGINT") { signal_number = SIGINT; }
  SECTION("SIGTERM with an idle keep-alive connection open") {
    idle = server.connect();
    REQUIRE_THAT(idle->request("GET", "/v1/"), is_json(200));
  }
  SECTION("SIGTERM right after writes") {
    for (int i = 0; i < 20; ++i) must(server.request("POST", records, R"({"data": {}})", owner()), 201);
  }
  SECTION("SIGTERM after an account login") {
    must(server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "pa"}})"), 201);
    REQUIRE(str_at(must(server.request("GET", "/v1/", {}, auth("alice", "pa")), 200), "user.id") == "account:alice");
  }
  INFO("signal " << signal_number);
  INFO(server.output());
  CHECK(server.signal_and_wait(signal_number) == 0);
}

TEST_CASE("kintod without an ini file starts with built-in defaults", "[server]") {
  kintod_process server({.write_ini = false});
  auto hello = server.request("GET", "/v1/");
  REQUIRE_THAT(hello, is_json(200));
  CHECK(str_at(hello.json(), "url") == server.url("/v1/"));
  CHECK(at(hello.json(), "settings") ==
        parse_json(R"({"batch_max_requests": 25, "readonly": false, "explicit_permissions": true})"));
  CHECK_THAT(server.request("GET", "/v1/__heartbeat__"), is_json(200));
  INFO(server.output());
  CHECK(server.stop() == 0);
}

TEST_CASE("data and list timestamps survive a clean restart", "[server]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto record = must(server.request("PUT", records + "/r", R"({"data": {"title": "kept", "n": 36893488147419103232}})",
                                    owner()),
                     201);
  auto list_etag = server.request("GET", records, {}, owner()).header("ETag");
  REQUIRE(server.stop() == 0);
  server.start();

  auto fetched = must(server.request("GET", records + "/r", {}, owner()), 200);
  CHECK(at(fetched, "data") == at(record, "data"));
  CHECK(at(fetched, "data.n").as_string() == "36893488147419103232");
  CHECK(contains_string(fetched, "permissions.write", mat_id));
  CHECK(server.request("GET", records, {}, owner()).header("ETag") == list_etag);
  auto next = must(server.request("POST", records, R"({"data": {}})", owner()), 201);
  CHECK(int_at(next, "data.last_modified") > int_at(record, "data.last_modified"));
}

TEST_CASE("timestamps keep increasing across restarts while the list is ahead of the clock", "[server]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto now = must(server.request("PUT", records + "/now", R"({"data": {}})", owner()), 201);
  // A client-supplied timestamp ten minutes ahead moves the list timestamp there.
  const auto ahead = int_at(now, "data.last_modified") + 600000;
  must(server.request("PUT", records + "/ahead", R"({"data": {"last_modified": )" + std::to_string(ahead) + "}}",
                      owner()),
       201);
  REQUIRE(etag_value(server.request("GET", records, {}, owner())) == ahead);
  SECTION("without restart") {}
  SECTION("after a clean restart") {
    REQUIRE(server.stop() == 0);
    server.start();
  }
  SECTION("after SIGKILL") {
    server.kill_hard();
    server.start();
  }

  CHECK(etag_value(server.request("GET", records, {}, owner())) == ahead);
  auto next = server.request("PUT", records + "/next", R"({"data": {}})", owner());
  REQUIRE_THAT(next, is_json(201));
  CHECK(int_at(next.json(), "data.last_modified") == ahead + 1);
  CHECK(etag_value(server.request("GET", records, {}, owner())) == ahead + 1);
}

TEST_CASE("acknowledged concurrent writes survive SIGKILL", "[server][durability]") {
  kintod_process server;
  create_collection(server, "b", "c");
  constexpr int threads = 8, per_thread = 50;
  bool kill_midway = false;
  SECTION("killed after the burst") {}
  SECTION("killed during the burst") { kill_midway = true; }

  std::vector<std::unique_ptr<http_connection>> connections;
  for (int t = 0; t < threads; ++t) connections.push_back(server.connect());
  std::vector<std::vector<acknowledged_write>> acked(threads);
  std::vector<std::string> failures(threads);
  std::mutex mutex;
  std::condition_variable progressed;
  int total_acked = 0;

  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      try {
        for (int i = 0; i < per_thread; ++i) {
          std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
          std::string body = R"({"data": {"thread": )" + std::to_string(t) + R"(, "i": )" + std::to_string(i) +
                             R"(, "payload": ")" + std::string(200, static_cast<char>('a' + t)) + R"("}})";
          auto r = connections[t]->request("PUT", records + "/" + id, body, owner());
          if (r.status != 201) throw std::runtime_error(r.describe());
          acked[t].push_back({id, at(r.json(), "data")});
          std::lock_guard lock(mutex);
          ++total_acked;
          progressed.notify_all();
        }
      } catch (const std::exception& e) {
        failures[t] = e.what();
      }
    });

  if (kill_midway) {
    {
      std::unique_lock lock(mutex);
      progressed.wait(lock, [&] { return total_acked >= threads * per_thread / 2; });
    }
    server.kill_hard();
    for (auto& w : workers) w.join();
  } else {
    for (auto& w : workers) w.join();
    for (const auto& f : failures) CHECK(f == "");
    server.kill_hard();
  }

  server.start();
  auto reader = server.connect();
  std::int64_t newest = 0;
  std::size_t checked = 0;
  for (const auto& per_thread_acks : acked)
    for (const auto& write : per_thread_acks) {
      auto r = reader->request("GET", records + "/" + write.id, {}, owner());
      INFO("record " << write.id);
      REQUIRE_THAT(r, is_json(200));
      CHECK(at(r.json(), "data") == write.data);
      newest = std::max(newest, int_at(write.data, "last_modified"));
      ++checked;
    }
  CHECK(checked >= static_cast<std::size_t>(kill_midway ? threads * per_thread / 2 : threads * per_thread));

  auto list = reader->request("GET", records + "?_limit=1", {}, owner());
  REQUIRE_THAT(list, is_json(200));
  if (kill_midway)
    CHECK(etag_value(list) >= newest);
  else
    CHECK(etag_value(list) == newest);

  auto after = reader->request("PUT", records + "/after-restart", R"({"data": {}})", owner());
  REQUIRE_THAT(after, is_json(201));
  CHECK(int_at(after.json(), "data.last_modified") > etag_value(list));
}

TEST_CASE("under systemd (NOTIFY_SOCKET) kintod says READY=1 once it listens, STOPPING=1 on SIGTERM", "[server]") {
  kinto::test::notify_socket manager;
  kintod_process server({.env = {{"NOTIFY_SOCKET", manager.path}}});
  const std::string ready = manager.receive(20000).value_or("");
  CHECK_THAT(ready, Catch::Contains("READY=1"));
  CHECK_THAT(ready, Catch::Contains("STATUS=listening on http://127.0.0.1:" + std::to_string(server.port())));
  CHECK(server.healthy());
  // SIGTERM: the datagram was sent before kintod exited.
  CHECK(server.stop() == 0);
  CHECK_THAT(manager.receive(20000).value_or(""), Catch::Contains("STOPPING=1"));
}
