// Integration tests of the generated userid_hmac_secret: without the setting,
// the first start stores a random secret in the data directory and later
// starts reuse it, so user ids (and personal bucket ids) survive restarts; a
// secret set explicitly, even empty, is used as given and no file is written.
#include "harness.hpp"

#include "base/crypto.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/stat.h>

using namespace kintod_test;

namespace {

std::string secret_path(const std::string& data_dir) {
  return data_dir + "/userid_hmac_secret";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// `user.id` of the root view for the owner's basicauth credentials.
std::string owner_id(kintod_process& server) {
  return str_at(must(server.request("GET", "/v1/", {}, owner()), 200), "user.id");
}

/// The basicauth user id of "mat:secret" under `secret`.
std::string expected_id(std::string_view secret) {
  return "basicauth:" + kinto::crypto::hmac_sha256_hex(secret, "mat:secret");
}

/// Options of a server whose ini has no userid_hmac_secret.
kintod_options without_secret(const std::string& data_dir) {
  return {.omit = {"kinto.userid_hmac_secret"}, .data_dir = data_dir};
}

} // namespace

TEST_CASE("without userid_hmac_secret a secret is generated in the data directory and kept across restarts",
          "[secret]") {
  temp_dir data;
  kintod_process server(without_secret(data.path()));
  const std::string path = secret_path(data.path());
  INFO(server.output());
  REQUIRE(std::filesystem::exists(path));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  const std::string text = read_text(path);
  REQUIRE(text.size() == 65);
  const std::string secret = text.substr(0, 64);
  CHECK(secret.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(text.back() == '\n');
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CHECK(server.output().find("userid_hmac_secret generated and stored at " + path) != std::string::npos);

  const std::string id = owner_id(server);
  CHECK(id == expected_id(secret));
  CHECK(id != mat_id);

  SECTION("after a clean restart") {
    REQUIRE(server.stop() == 0);
  }
  SECTION("after SIGKILL") {
    server.kill_hard();
  }
  server.start();
  INFO(server.output());
  CHECK(owner_id(server) == id);
  CHECK(read_text(path) == text);
  CHECK(server.output().find("userid_hmac_secret read from " + path) != std::string::npos);
}

TEST_CASE("different data directories get different generated secrets", "[secret]") {
  temp_dir one, two;
  kintod_process first(without_secret(one.path()));
  kintod_process second(without_secret(two.path()));
  CHECK(owner_id(first) != owner_id(second));
  CHECK(read_text(secret_path(one.path())) != read_text(secret_path(two.path())));
}

TEST_CASE("personal bucket ids derive from the generated secret and survive restarts", "[secret][default_bucket]") {
  temp_dir data;
  auto options = without_secret(data.path());
  options.settings = {{"kinto.includes", "kinto.plugins.accounts kinto.plugins.default_bucket"}};
  kintod_process server(options);
  const std::string secret = read_text(secret_path(data.path())).substr(0, 64);
  auto hello = must(server.request("GET", "/v1/", {}, owner()), 200);
  // default_bucket_hmac_secret is absent: it falls back on userid_hmac_secret.
  const std::string hex = kinto::crypto::hmac_sha256_hex(secret, str_at(hello, "user.id"));
  const std::string expected = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
                               hex.substr(16, 4) + "-" + hex.substr(20, 12);
  CHECK(str_at(hello, "user.bucket") == expected);
  REQUIRE(server.stop() == 0);
  server.start();
  CHECK(str_at(must(server.request("GET", "/v1/", {}, owner()), 200), "user.bucket") == expected);
}

TEST_CASE("an explicitly set userid_hmac_secret is used as given and no file is written", "[secret]") {
  temp_dir data;
  kintod_options options{.data_dir = data.path()};
  std::string secret;
  SECTION("empty, as the harness sets it") {}
  SECTION("in the ini") {
    secret = "from-the-ini";
    options.settings = {{"kinto.userid_hmac_secret", secret}};
  }
  SECTION("in the environment only") {
    secret = "from-the-environment";
    options.omit = {"kinto.userid_hmac_secret"};
    options.env = {{"KINTO_USERID_HMAC_SECRET", secret}};
  }
  SECTION("empty in the environment only") {
    options.omit = {"kinto.userid_hmac_secret"};
    options.env = {{"KINTO_USERID_HMAC_SECRET", ""}};
  }
  kintod_process server(options);
  INFO(server.output());
  CHECK(owner_id(server) == expected_id(secret));
  if (secret.empty()) CHECK(owner_id(server) == mat_id);
  CHECK_FALSE(std::filesystem::exists(secret_path(data.path())));
  CHECK(server.output().find("userid_hmac_secret") == std::string::npos);
}

TEST_CASE("an unreadable or empty secret file stops kintod instead of replacing the secret", "[secret]") {
  temp_dir data;
  write_file(secret_path(data.path()), "\n");
  auto result =
      run_kintod({"--ini", "/dev/null", "--host", "127.0.0.1", "--port", "0"}, {{"KINTO_STORAGE_URL", data.path()}});
  INFO(result.output);
  CHECK(result.exit_status == 1);
  CHECK(result.output.find("is empty") != std::string::npos);
  CHECK(read_text(secret_path(data.path())) == "\n");
}
