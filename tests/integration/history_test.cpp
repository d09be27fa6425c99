// Integration tests of the history plugin (batch-and-plugins.md §3): entries
// for every change, their fields, who sees them, filters, purge, deletion
// with the bucket, and excluded resources.
#include "harness.hpp"

using namespace kintod_test;
using kinto::json::value;

namespace {

kintod_process with_history(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> settings{{"kinto.includes", "kinto.plugins.accounts kinto.plugins.history"}};
  for (auto& [k, v] : extra) settings[k] = v;
  return kintod_process({.settings = settings});
}

const std::string history = "/v1/buckets/b/history";

} // namespace

TEST_CASE("every change appends an entry to its bucket's history, newest first", "[history]") {
  auto server = with_history();
  CHECK(server.request("GET", "/v1/").json().find("capabilities")->find("history"));
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/r", R"({"data": {"n": 1}})", owner()), 201);
  must(server.request("PATCH", "/v1/buckets/b/collections/c/records/r", R"({"data": {"n": 2}})", owner()), 200);
  must(server.request("DELETE", "/v1/buckets/b/collections/c/records/r", {}, owner()), 200);
  const value body = must(server.request("GET", history, {}, owner()), 200);
  const auto& entries = body.find("data")->as_array();
  REQUIRE(entries.size() == 5);
  CHECK(entries[0].find("action")->as_string() == "delete");
  CHECK(entries[0].find("target")->find("data")->find("deleted")->as_bool());
  CHECK(entries[1].find("action")->as_string() == "update");
  CHECK(entries[1].find("target")->find("data")->find("n")->as_int64() == 2);
  CHECK(entries[2].find("action")->as_string() == "create");
  CHECK(entries[2].find("uri")->as_string() == "/buckets/b/collections/c/records/r");
  CHECK(entries[2].find("resource_name")->as_string() == "record");
  CHECK(entries[2].find("collection_id")->as_string() == "c");
  CHECK(entries[2].find("record_id")->as_string() == "r");
  CHECK(entries[2].find("user_id")->as_string().starts_with("basicauth:"));
  CHECK(entries[2].find("date")->as_string().ends_with("+00:00"));
  CHECK(entries[3].find("resource_name")->as_string() == "collection");
  CHECK(entries[4].find("resource_name")->as_string() == "bucket");
  CHECK(entries[4].find("bucket_id")->as_string() == "b");
  CHECK(*entries[0].find("last_modified")->as_int64() > *entries[1].find("last_modified")->as_int64());
}

TEST_CASE("history takes the query language on its own fields only", "[history]") {
  auto server = with_history();
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/2", R"({"data": {}})", owner()), 201);
  const value records = must(server.request("GET", history + "?resource_name=record", {}, owner()), 200);
  CHECK(records.find("data")->as_array().size() == 1);
  const value by_id = must(server.request("GET", history + "?record_id=2", {}, owner()), 200);
  CHECK(by_id.find("data")->as_array().size() == 1);
  const value by_target = must(server.request("GET", history + "?target.data.id=%222%22", {}, owner()), 200);
  CHECK(by_target.find("data")->as_array().size() == 1);
  CHECK_THAT(server.request("GET", history + "?movie=x", {}, owner()), is_kinto_error(400, 107));
  auto head = server.request("HEAD", history, {}, owner());
  CHECK(head.header("Total-Objects") == "3");
}

TEST_CASE("callers see the entries of objects they could read when written, others nothing", "[history]") {
  auto server = with_history();
  create_collection(server, "b", "c");
  const auto bob = header_list{{"Authorization", basic("bob", "secret")}};
  const std::string bob_id = str_at(server.request("GET", "/v1/", {}, bob).json(), "user.id");
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/shared",
                      R"({"data": {}, "permissions": {"read": [")" + bob_id + R"("]}})", owner()),
       201);
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/private", R"({"data": {}})", owner()), 201);
  const value seen = must(server.request("GET", history, {}, bob), 200);
  REQUIRE(seen.find("data")->as_array().size() == 1);
  CHECK(seen.find("data")->as_array()[0].find("record_id")->as_string() == "shared");
  CHECK_THAT(server.request("GET", history, {}, {{"Authorization", basic("carol", "secret")}}), is_kinto_error(403, 121));
  CHECK_THAT(server.request("GET", history), is_kinto_error(401, 104));
}

TEST_CASE("history can be purged by the bucket's writers and goes with its bucket", "[history]") {
  auto server = with_history();
  create_collection(server, "b", "c");
  const value purged = must(server.request("DELETE", history + "?resource_name=bucket", {}, owner()), 200);
  CHECK(purged.find("data")->as_array().size() == 1);
  CHECK(must(server.request("GET", history, {}, owner()), 200).find("data")->as_array().size() == 1);
  must(server.request("DELETE", "/v1/buckets/b", {}, owner()), 200);
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  const value fresh = must(server.request("GET", history, {}, owner()), 200);
  REQUIRE(fresh.find("data")->as_array().size() == 1);
  CHECK(fresh.find("data")->as_array()[0].find("action")->as_string() == "create");
}

TEST_CASE("excluded resources and users leave no entries", "[history]") {
  auto server = with_history({{"kinto.history.exclude_resources", "/buckets/b/collections/quiet"}});
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/collections/quiet", R"({"data": {}})", owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/collections/quiet/records/r", R"({"data": {}})", owner()), 201);
  const value entries = must(server.request("GET", history, {}, owner()), 200);
  for (const auto& e : entries.find("data")->as_array()) CHECK(e.find("uri")->as_string().find("quiet") == std::string::npos);
  CHECK(entries.find("data")->as_array().size() == 2);
}

TEST_CASE("a snapshot rebuilds a collection as it was at a timestamp", "[history]") {
  auto server = with_history();
  create_collection(server, "b", "c");
  const std::string records = "/v1/buckets/b/collections/c/records";
  must(server.request("PUT", records + "/kept", R"({"data": {"v": 1}})", owner()), 201);
  must(server.request("PUT", records + "/changed", R"({"data": {"v": 1}})", owner()), 201);
  const auto deleted = must(server.request("PUT", records + "/deleted", R"({"data": {"v": 1}})", owner()), 201);
  const auto at = int_at(deleted, "data.last_modified");
  must(server.request("PATCH", records + "/changed", R"({"data": {"v": 2}})", owner()), 200);
  must(server.request("DELETE", records + "/deleted", {}, owner()), 200);
  must(server.request("PUT", records + "/later", R"({"data": {"v": 1}})", owner()), 201);

  const value snapshot = must(server.request("GET", "/v1/buckets/b/snapshot/collections/c@" + std::to_string(at), {}, owner()), 200);
  const auto& data = snapshot.find("data")->as_array();
  REQUIRE(data.size() == 3);
  CHECK(data[0].find("id")->as_string() == "deleted");
  CHECK(data[1].find("id")->as_string() == "changed");
  CHECK(data[1].find("v")->as_int64() == 1);
  CHECK(data[2].find("id")->as_string() == "kept");
  CHECK_THAT(server.request("GET", "/v1/buckets/b/snapshot/collections/c@abc", {}, owner()), is_kinto_error(400, 107));
  CHECK_THAT(server.request("GET", "/v1/buckets/b/snapshot/collections/c@1", {}, {{"Authorization", basic("carol", "x")}}),
             is_kinto_error(403, 121));
}

TEST_CASE("history is trimmed per bucket and resource name past the threshold", "[history]") {
  auto server = with_history({{"kinto.history.auto_trim_max_count", "2"}, {"kinto.history.auto_trim_threshold", "1"}});
  create_collection(server, "b", "c");
  auto record_entries = [&] {
    return must(server.request("GET", history + "?resource_name=record", {}, owner()), 200).find("data")->as_array().size();
  };
  for (int i = 0; i < 3; ++i)
    must(server.request("PUT", "/v1/buckets/b/collections/c/records/r" + std::to_string(i), R"({"data": {}})", owner()), 201);
  CHECK(record_entries() == 3);
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/r3", R"({"data": {}})", owner()), 201);
  const value kept = must(server.request("GET", history + "?resource_name=record", {}, owner()), 200);
  REQUIRE(kept.find("data")->as_array().size() == 2);
  CHECK(kept.find("data")->as_array()[0].find("record_id")->as_string() == "r3");
  CHECK(kept.find("data")->as_array()[1].find("record_id")->as_string() == "r2");
  // Other resource names keep their own entries.
  CHECK(must(server.request("GET", history + "?resource_name=bucket", {}, owner()), 200).find("data")->as_array().size() == 1);
}
