// A data directory written by an earlier release (storage format 1, see
// tests/fixtures/format-1/make.sh) is upgraded in place at start: every
// answer that release gave on it is given again, and the directory goes on
// taking writes.
#include "harness.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace kintod_test;
namespace json = kinto::json;

namespace {

const std::string fixture = std::string(KINTOD_FIXTURES) + "/format-1";

/// One remembered answer: who asked what, and what the format 1 kintod said.
struct answer {
  std::string user, method, path;
  int status = 0;
  std::string etag, body;
};

std::vector<answer> remembered() {
  std::ifstream in(fixture + "/expected.txt");
  REQUIRE(in);
  std::vector<answer> out;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (int i = 0; i < 5; ++i) {
      const auto tab = line.find('\t', start);
      REQUIRE(tab != std::string::npos);
      fields.push_back(line.substr(start, tab - start));
      start = tab + 1;
    }
    out.push_back({fields[0], fields[1], fields[2], std::stoi(fields[3]), fields[4], line.substr(start)});
  }
  return out;
}

header_list credentials(const std::string& user) {
  if (user == "mat") return auth("mat", "secret");
  if (user == "bob") return auth("bob", "secret");
  if (user == "alice") return auth("alice", "alice-pass");
  return {};
}

/// The fixture's ini settings, on `data_dir`.
kintod_options fixture_options(const std::string& data_dir) {
  return {.settings = {{"kinto.includes", "kinto.plugins.accounts kinto.plugins.history"},
                       {"multiauth.policies", "account basicauth"},
                       {"kinto.bucket_create_principals", "system.Authenticated"},
                       {"kinto.experimental_permissions_endpoint", "true"}},
          .data_dir = data_dir};
}

std::size_t occurrences(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

} // namespace

TEST_CASE("a data directory of storage format 1 is upgraded in place and answers as before", "[lmdb]") {
  temp_dir dir;
  const std::string data = dir.path() + "/data";
  std::filesystem::create_directory(data);
  std::filesystem::copy_file(fixture + "/data/data.mdb", data + "/data.mdb");
  const auto answers = remembered();
  REQUIRE(answers.size() >= 20);

  kintod_process server(fixture_options(data));
  CHECK(occurrences(server.output(), "from storage format 1 to 2") == 1);
  CHECK(occurrences(server.output(), "storage: upgrade done") == 1);

  auto replay = [&] {
    for (const auto& a : answers) {
      INFO(a.user << " " << a.method << " " << a.path);
      auto r = server.request(a.method, "/v1" + a.path, "", credentials(a.user));
      CHECK(r.status == a.status);
      CHECK((r.has_header("ETag") ? r.header("ETag") : "-") == a.etag);
      CHECK(r.json() == parse_json(a.body));
    }
  };
  replay();

  // The upgraded directory takes writes, and is not upgraded again.
  auto created = server.request("POST", "/v1/buckets/b1/collections/tasks/records", R"({"data":{"title":"new"}})",
                                auth("alice", "alice-pass"));
  REQUIRE(created.status == 201);
  const std::string id = str_at(created.json(), "data.id");
  server.stop();
  server.start();
  CHECK(occurrences(server.output(), "from storage format 1 to 2") == 1);
  auto mine = server.request("GET", "/v1/buckets/b1/collections/tasks/records", "", auth("alice", "alice-pass"));
  REQUIRE(mine.status == 200);
  std::vector<std::string> ids;
  const json::value listed = mine.json();
  for (const auto& r : at(listed, "data").as_array()) ids.push_back(str_at(r, "id"));
  // Newest first: her new record, then those she could see before.
  CHECK(ids == std::vector<std::string>{id, "alice-1", "bob-1", "alice-2"});
  // Bob still sees his own record only.
  auto as_bob = server.request("GET", "/v1/buckets/b1/collections/tasks/records", "", auth("bob", "secret"));
  REQUIRE(as_bob.status == 200);
  CHECK(at(as_bob.json(), "data").as_array().size() == 1);
}
