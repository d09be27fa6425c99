// Two independent clients syncing one collection over HTTP, as kinto.js does:
// pull changes since their last ETag, push local changes guarded by If-Match
// or If-None-Match, resolve conflicts from 412's details, upload through
// /batch in pages of batch_max_requests. Both end with identical data.
#include "harness.hpp"

#include <map>

using namespace kintod_test;
using kinto::json::value;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";

/// A client's local copy: records by id (tombstones removed), and the ETag
/// of the last pull.
struct replica {
  header_list auth;
  std::map<std::string, value> local;
  std::string etag = "\"0\"";

  /// GET ?_since=<etag>, following Next-Page, applying records and tombstones.
  void pull(kintod_process& server) {
    std::string since = etag.substr(1, etag.size() - 2);
    std::string target = records + "?_since=" + since + "&_limit=3";
    const std::string known = etag;
    for (int guard = 0; guard < 100 && !target.empty(); ++guard) {
      // The first page asks "anything new?"; the next ones are read as they are.
      auto r = server.request("GET", target, {}, guard == 0 ? with(auth, {{"If-None-Match", known}}) : auth);
      if (r.status == 304) return;
      REQUIRE(r.status == 200);
      if (guard == 0) etag = r.header("ETag");
      const value body = r.json();
      for (const auto& obj : body.find("data")->as_array()) {
        const std::string id = obj.find("id")->as_string();
        if (obj.find("deleted")) local.erase(id);
        else local[id] = obj;
      }
      const std::string next = r.header("Next-Page");
      target = next.empty() ? "" : next.substr(next.find("/v1/"));
    }
  }
};

} // namespace

TEST_CASE("two clients syncing through one collection end with identical data", "[sync]") {
  kintod_process server({.settings = {{"kinto.batch_max_requests", "4"}}});
  create_collection(server, "b", "c");
  must(server.request("PATCH", "/v1/buckets/b", R"({"permissions": {"write": ["system.Authenticated"]}})", owner()), 200);
  replica alice{{{"Authorization", basic("alice", "secret")}}};
  replica bob{{{"Authorization", basic("bob", "secret")}}};

  // Alice uploads 10 records through /batch, in pages of 4.
  for (int page = 0; page < 3; ++page) {
    std::string requests;
    for (int i = page * 4; i < std::min(10, page * 4 + 4); ++i)
      requests += (requests.empty() ? "" : ",") + std::string(R"({"method": "PUT", "path": "/buckets/b/collections/c/records/r)") +
                  std::to_string(i) + R"(", "headers": {"If-None-Match": "*"}, "body": {"data": {"n": )" + std::to_string(i) + "}}}";
    auto r = server.request("POST", "/v1/batch", R"({"requests": [)" + requests + "]}", alice.auth);
    REQUIRE_THAT(r, is_json(200));
    const value body = r.json();
    for (const auto& entry : body.find("responses")->as_array()) CHECK(entry.find("status")->as_int64() == 201);
  }
  alice.pull(server);
  bob.pull(server);
  CHECK(bob.local.size() == 10);

  // Bob edits r1 and deletes r2; Alice edits r1 too, from her stale copy.
  const auto r1 = bob.local.at("r1");
  const std::string r1_etag = "\"" + std::to_string(*r1.find("last_modified")->as_int64()) + "\"";
  must(server.request("PATCH", records + "/r1", R"({"data": {"n": 100}})", with(bob.auth, {{"If-Match", r1_etag}})), 200);
  must(server.request("DELETE", records + "/r2", {}, with(bob.auth, {{"If-Match", "\"" + std::to_string(*bob.local.at("r2").find("last_modified")->as_int64()) + "\""}})), 200);
  auto conflict = server.request("PATCH", records + "/r1", R"({"data": {"n": 200}})", with(alice.auth, {{"If-Match", r1_etag}}));
  REQUIRE_THAT(conflict, is_kinto_error(412, 114));
  // Alice resolves from the server's version in the 412 and retries.
  const value failure = conflict.json();
  const value existing = *failure.find("details")->find("existing");
  CHECK(existing.find("n")->as_int64() == 100);
  const std::string current = "\"" + std::to_string(*existing.find("last_modified")->as_int64()) + "\"";
  must(server.request("PATCH", records + "/r1", R"({"data": {"n": 300}})", with(alice.auth, {{"If-Match", current}})), 200);

  alice.pull(server);
  bob.pull(server);
  CHECK(alice.local.size() == 9);
  CHECK(alice.local.count("r2") == 0);
  CHECK(alice.local.at("r1").find("n")->as_int64() == 300);
  CHECK(alice.local == bob.local);
  CHECK(alice.etag == bob.etag);
  // Nothing new: both polls answer 304 and keep their ETag.
  const std::string before = alice.etag;
  alice.pull(server);
  CHECK(alice.etag == before);
}
