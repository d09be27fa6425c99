// kintod backup and kintod restore (LMDB): a copy taken while writers write
// holds every write acknowledged before it began and serves once restored;
// a used destination, a copy that is not one, and a data directory a
// running kintod holds are refused with nothing changed; two servers cannot
// open one data directory; on PostgreSQL the commands point to pg_dump.
#include "harness.hpp"

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace kintod_test;

namespace {

/// An ini whose storage is the LMDB directory `data_dir`, for the commands.
std::string ini_for(const temp_dir& at, const std::string& data_dir) {
  const std::string path = at.path() + "/kinto.ini";
  write_file(path, ini_text(default_settings(data_dir)));
  return path;
}

std::string record_path(int n) { return "/v1/buckets/b/collections/c/records/r" + std::to_string(n); }

} // namespace

TEST_CASE("a backup taken under concurrent writes holds every write acknowledged before it, and restores", "[lmdb][backup]") {
  temp_dir data, work;
  kintod_process server({.data_dir = data.path()});
  create_collection(server, "b", "c");
  constexpr int before = 200;
  for (int n = 0; n < before; ++n)
    must(server.request("PUT", record_path(n), R"({"data": {"n": )" + std::to_string(n) + "}}", owner()), 201);

  // Writers go on during the backup.
  std::atomic<bool> stop{false};
  std::atomic<int> written_during{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      http_connection c(server.port());
      for (int i = 0; !stop; ++i) {
        auto r = c.request("PUT", record_path(100000 * (w + 1) + i), R"({"data": {"late": true}})", owner());
        if (r.status == 201) ++written_during;
      }
    });
  const std::string copy = work.path() + "/copy";
  auto backup = run_kintod({"backup", "--ini", ini_for(work, data.path()), copy});
  stop = true;
  for (auto& t : writers) t.join();
  INFO(backup.output);
  REQUIRE(backup.exit_status == 0);
  CHECK_THAT(backup.output, Catch::Matches("(.|\n)*backup: [0-9]+ objects, [0-9]+ entries in [0-9]+ databases, [0-9]+ bytes, "
                                           "[0-9.]+ s: .*copy\n"));
  CHECK(std::filesystem::exists(copy + "/data.mdb"));

  // Restored into a new data directory, it serves what was acknowledged.
  temp_dir restored;
  const std::string restored_dir = restored.path() + "/data";
  auto restore = run_kintod({"restore", copy, "--ini", ini_for(work, restored_dir)});
  INFO(restore.output);
  REQUIRE(restore.exit_status == 0);
  CHECK_THAT(restore.output, Catch::Contains("restore: "));
  kintod_process from_copy({.data_dir = restored_dir});
  http_connection c(from_copy.port());
  for (int n = 0; n < before; ++n) {
    auto r = c.request("GET", record_path(n), {}, owner());
    REQUIRE(r.status == 200);
    CHECK(int_at(r.json(), "data.n") == n);
  }
  // Every record the copy holds reads back whole.
  auto all = c.request("GET", "/v1/buckets/b/collections/c/records?_limit=10000", {}, owner());
  REQUIRE(all.status == 200);
  CHECK(at(all.json(), "data").as_array().size() >= static_cast<std::size_t>(before));
  CHECK(c.request("GET", "/v1/__heartbeat__").status == 200);
}

TEST_CASE("backup and restore refuse what they cannot do safely, changing nothing", "[lmdb][backup]") {
  temp_dir data, work;
  const std::string ini = ini_for(work, data.path());
  {
    kintod_process server({.data_dir = data.path()});
    must(server.request("PUT", "/v1/buckets/kept", {}, owner()), 201);

    SECTION("a destination that is not an empty directory") {
      std::filesystem::create_directories(work.path() + "/used");
      write_file(work.path() + "/used/file", "x");
      auto r = run_kintod({"backup", "--ini", ini, work.path() + "/used"});
      CHECK(r.exit_status == 1);
      CHECK_THAT(r.output, Catch::Contains("not an empty directory"));
      CHECK(std::filesystem::file_size(work.path() + "/used/file") == 1);
    }
    SECTION("restoring over the data of a running kintod") {
      auto copy = run_kintod({"backup", "--ini", ini, work.path() + "/copy"});
      REQUIRE(copy.exit_status == 0);
      auto r = run_kintod({"restore", work.path() + "/copy", "--ini", ini});
      CHECK(r.exit_status == 1);
      CHECK_THAT(r.output, Catch::Contains("a kintod has") && Catch::Contains("nothing was changed"));
    }
    SECTION("a second kintod on the same data directory") {
      auto r = run_kintod({"--ini", ini, "--port", "0"});
      CHECK(r.exit_status != 0);
      CHECK_THAT(r.output, Catch::Contains("a kintod has"));
    }
    SECTION("no directory named") {
      CHECK(run_kintod({"backup", "--ini", ini}).exit_status == 2);
    }
    CHECK(server.request("GET", "/v1/buckets/kept", {}, owner()).status == 200);
  }
  SECTION("a copy that is not one") {
    std::filesystem::create_directories(work.path() + "/bogus");
    write_file(work.path() + "/bogus/data.mdb", std::string(8192, 'x'));
    auto r = run_kintod({"restore", work.path() + "/bogus", "--ini", ini});
    CHECK(r.exit_status == 1);
    CHECK_THAT(r.output, Catch::Contains("nothing was changed"));
    kintod_process again({.data_dir = data.path()});
    CHECK(again.request("GET", "/v1/buckets/kept", {}, owner()).status == 200);
  }
}

TEST_CASE("on PostgreSQL, backup and restore point to pg_dump", "[backup]") {
  temp_dir work;
  const std::string ini = work.path() + "/kinto.ini";
  auto settings = default_settings(work.path() + "/data");
  settings["kinto.storage_backend"] = "kinto.core.storage.postgresql";
  settings["kinto.storage_url"] = "postgresql://nobody@127.0.0.1:1/none";
  write_file(ini, ini_text(settings));
  auto r = run_kintod({"backup", "--ini", ini, work.path() + "/copy"});
  CHECK(r.exit_status == 2);
  CHECK_THAT(r.output, Catch::Contains("pg_dump"));
}
