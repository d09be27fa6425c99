// Integration tests of the batch's transaction rules (batch-and-plugins.md
// §1.4): one transaction; a 4xx keeps the other writes; a 409 drops the
// writes before it; a 5xx drops the whole batch; and batches running among
// concurrent single writes keep every write with unique, ordered timestamps.
#include "harness.hpp"

#include <set>
#include <thread>

using namespace kintod_test;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";

std::int64_t status_at(const kinto::json::value& body, std::size_t i) {
  return body.find("responses")->as_array().at(i).find("status")->as_int64().value_or(0);
}

bool exists(kintod_process& server, const std::string& id) {
  return server.request("GET", records + "/" + id, {}, owner()).status == 200;
}

std::uint64_t last_modified_of(kintod_process& server, const std::string& id) {
  auto r = server.request("GET", records + "/" + id, {}, owner());
  REQUIRE_THAT(r, is_json(200));
  return static_cast<std::uint64_t>(r.json().find("data")->find("last_modified")->as_int64().value_or(0));
}

} // namespace

TEST_CASE("a 4xx in a batch keeps the writes around it", "[batch][transaction]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto r = server.request("POST", "/v1/batch",
                          R"({"defaults": {"method": "PUT"},
                              "requests": [{"path": "/buckets/b/collections/c/records/x", "body": {"data": {}}},
                                           {"path": "/buckets/b/collections/c/records/y", "body": {"data": {}},
                                            "headers": {"If-Match": "\"1\""}},
                                           {"path": "/buckets/b/collections/c/records/z", "body": {"data": {}}}]})",
                          owner());
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  CHECK(status_at(body, 0) == 201);
  CHECK(status_at(body, 1) == 412);
  CHECK(status_at(body, 2) == 201);
  CHECK(exists(server, "x"));
  CHECK_FALSE(exists(server, "y"));
  CHECK(exists(server, "z"));
}

TEST_CASE("a 409 in a batch drops the writes before it and keeps the ones after", "[batch][transaction]") {
  kintod_process server;
  create_collection(server, "b", "c");
  REQUIRE_THAT(server.request("PUT", records + "/taken", R"({"data": {}})", owner()), is_json(201));
  const std::uint64_t taken = last_modified_of(server, "taken");
  REQUIRE_THAT(server.request("PUT", records + "/later", R"({"data": {}})", owner()), is_json(201));
  // Creating an object with a timestamp another object of the list holds
  // breaks the list's uniqueness rule (concurrency.md §2): 409.
  auto r = server.request("POST", "/v1/batch",
                          R"({"defaults": {"method": "PUT"},
                              "requests": [{"path": "/buckets/b/collections/c/records/before", "body": {"data": {}}},
                                           {"path": "/buckets/b/collections/c/records/later", "method": "PATCH",
                                            "body": {"data": {"seen": true}}},
                                           {"path": "/buckets/b/collections/c/records/clash",
                                            "body": {"data": {"last_modified": )" +
                            std::to_string(taken) + R"(}}},
                                           {"path": "/buckets/b/collections/c/records/after", "body": {"data": {}}}]})",
                          owner());
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  CHECK(status_at(body, 0) == 201);
  CHECK(status_at(body, 1) == 200);
  REQUIRE(status_at(body, 2) == 409);
  const auto& conflict = *body.find("responses")->as_array()[2].find("body");
  CHECK(conflict.find("errno")->as_int64() == 122);
  CHECK(status_at(body, 3) == 201);
  CHECK_FALSE(exists(server, "before"));
  CHECK_FALSE(exists(server, "clash"));
  CHECK(exists(server, "after"));
  auto kept = server.request("GET", records + "/later", {}, owner());
  CHECK_FALSE(kept.json().find("data")->find("seen"));
  CHECK(last_modified_of(server, "taken") == taken);
}

TEST_CASE("requests of a batch see what earlier ones wrote, permissions included", "[batch][transaction]") {
  kintod_process server;
  auto r = server.request("POST", "/v1/batch",
                          R"({"requests": [
                               {"method": "PUT", "path": "/buckets/shared", "body": {"data": {}}},
                               {"method": "PUT", "path": "/buckets/shared/groups/readers",
                                "body": {"data": {"members": ["system.Authenticated"]}}},
                               {"method": "PUT", "path": "/buckets/shared/collections/notes",
                                "body": {"permissions": {"read": ["/buckets/shared/groups/readers"]}}},
                               {"method": "POST", "path": "/buckets/shared/collections/notes/records",
                                "body": {"data": {"text": "hello"}}},
                               {"method": "GET", "path": "/buckets/shared/collections/notes/records"},
                               {"method": "GET", "path": "/buckets/shared/collections/notes/records",
                                "headers": {"Authorization": ")" + basic("reader", "pw") + R"("}}]})",
                          owner());
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  for (std::size_t i = 0; i < 4; ++i) CHECK(status_at(body, i) == 201);
  const auto& responses = body.find("responses")->as_array();
  REQUIRE(status_at(body, 4) == 200);
  CHECK(responses[4].find("body")->find("data")->as_array().size() == 1);
  CHECK(responses[4].find("headers")->find("Total-Objects") == nullptr);
  // Another caller, in the same batch, reads through the group made above.
  REQUIRE(status_at(body, 5) == 200);
  CHECK(responses[5].find("body")->find("data")->as_array().size() == 1);
  // And once the batch is answered, everyone sees the same.
  CHECK_THAT(server.request("GET", "/v1/buckets/shared/collections/notes/records", {}, header_list{{"Authorization", basic("reader", "pw")}}),
             is_json(200));
}

TEST_CASE("the permissions endpoint and a personal bucket inside a writing batch see the batch's writes",
          "[batch][transaction]") {
  kintod_process server({.settings = {{"kinto.experimental_permissions_endpoint", "true"},
                                      {"kinto.includes", "kinto.plugins.default_bucket"}}});
  auto r = server.request("POST", "/v1/batch",
                          R"({"requests": [
                               {"method": "PUT", "path": "/buckets/fresh", "body": {"data": {}}},
                               {"method": "GET", "path": "/permissions?resource_name=bucket"},
                               {"method": "POST", "path": "/buckets/default/collections/tasks/records",
                                "body": {"data": {"title": "one"}}},
                               {"method": "GET", "path": "/buckets/default/collections/tasks/records"}]})",
                          owner());
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  CHECK(status_at(body, 0) == 201);
  REQUIRE(status_at(body, 1) == 200);
  const auto& responses = body.find("responses")->as_array();
  bool listed = false;
  for (const auto& entry : responses[1].find("body")->find("data")->as_array())
    listed = listed || entry.find("id")->as_string() == "fresh";
  CHECK(listed);
  CHECK(status_at(body, 2) == 201);
  REQUIRE(status_at(body, 3) == 200);
  CHECK(responses[3].find("body")->find("data")->as_array().size() == 1);
}

TEST_CASE("a 5xx in a batch drops the whole batch and answers with that error", "[batch][transaction][lmdb]") {
  // A map small enough that one big record cannot fit: the write fails
  // with 507 and nothing of the batch is kept.
  kintod_process server({.settings = {{"kinto.storage_map_size", std::to_string(2 << 20)}}});
  create_collection(server, "b", "c");
  const std::string big(3 << 20, 'x');
  auto r = server.request("POST", "/v1/batch",
                          R"({"defaults": {"method": "PUT"},
                              "requests": [{"path": "/buckets/b/collections/c/records/small", "body": {"data": {}}},
                                           {"path": "/buckets/b/collections/c/records/big",
                                            "body": {"data": {"blob": ")" + big + R"("}}},
                                           {"path": "/buckets/b/collections/c/records/never", "body": {"data": {}}}]})",
                          owner());
  CHECK_THAT(r, is_kinto_error(507, 201));
  CHECK_FALSE(exists(server, "small"));
  CHECK_FALSE(exists(server, "big"));
  CHECK_FALSE(exists(server, "never"));
  // The server goes on: reads work and a write that fits is kept.
  CHECK_THAT(server.request("GET", records, {}, owner()), is_json(200));
  CHECK_THAT(server.request("PUT", records + "/fits", R"({"data": {}})", owner()), is_json(201));
}

TEST_CASE("batches among concurrent single writes keep every write, with unique ordered timestamps",
          "[batch][transaction]") {
  kintod_process server;
  create_collection(server, "b", "c");
  constexpr int batch_writers = 3, single_writers = 3, rounds = 15, per_batch = 8;
  std::mutex mutex;
  std::map<std::string, std::uint64_t> acknowledged; // id -> last_modified
  std::vector<std::string> failures;
  auto remember = [&](const std::string& id, const kinto::json::value& data) {
    std::lock_guard<std::mutex> lock(mutex);
    acknowledged[id] = static_cast<std::uint64_t>(data.find("last_modified")->as_int64().value_or(0));
  };
  auto failed = [&](std::string what) {
    std::lock_guard<std::mutex> lock(mutex);
    failures.push_back(std::move(what));
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < batch_writers; ++w) {
    threads.emplace_back([&, w] {
      http_connection conn(server.port());
      for (int round = 0; round < rounds; ++round) {
        std::string requests;
        for (int i = 0; i < per_batch; ++i) {
          if (i) requests += ',';
          requests += R"({"method": "PUT", "path": "/buckets/b/collections/c/records/b)" + std::to_string(w) + "-" +
                      std::to_string(round) + "-" + std::to_string(i) + R"(", "body": {"data": {"n": )" +
                      std::to_string(i) + "}}}";
        }
        auto r = conn.request("POST", "/v1/batch", R"({"requests": [)" + requests + "]}", owner());
        if (r.status != 200) return failed(r.describe());
        auto body = r.json();
        for (const auto& entry : body.find("responses")->as_array()) {
          if (entry.find("status")->as_int64() != 201) return failed(kinto::json::serialize(entry));
          const auto& data = *entry.find("body")->find("data");
          remember(data.find("id")->as_string(), data);
        }
      }
    });
  }
  for (int w = 0; w < single_writers; ++w) {
    threads.emplace_back([&] {
      http_connection conn(server.port());
      for (int i = 0; i < rounds * 4; ++i) {
        auto r = conn.request("POST", records, R"({"data": {"single": true}})", owner());
        if (r.status != 201) return failed(r.describe());
        auto body = r.json();
        const auto& data = *body.find("data");
        remember(data.find("id")->as_string(), data);
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(failures.empty());
  REQUIRE(acknowledged.size() ==
          static_cast<std::size_t>(batch_writers * rounds * per_batch + single_writers * rounds * 4));
  std::set<std::uint64_t> timestamps;
  for (const auto& [id, ts] : acknowledged) timestamps.insert(ts);
  CHECK(timestamps.size() == acknowledged.size());
  // Everything acknowledged is stored as acknowledged, and the list's
  // timestamp is the newest of them.
  auto list = server.request("GET", records + "?_limit=10000", {}, owner());
  REQUIRE_THAT(list, is_json(200));
  std::map<std::string, std::uint64_t> stored;
  auto listed = list.json();
  for (const auto& rec : listed.find("data")->as_array())
    stored[rec.find("id")->as_string()] = static_cast<std::uint64_t>(rec.find("last_modified")->as_int64().value_or(0));
  CHECK(stored == acknowledged);
  CHECK(list.header("ETag") == "\"" + std::to_string(*timestamps.rbegin()) + "\"");
}
