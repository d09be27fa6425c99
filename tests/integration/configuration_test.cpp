// Integration tests of configuration read as upstream Kinto reads it: stock
// upstream ini files, JSON-decoded values, policy and plugin names, start-up
// checks of every setting, the ignored-settings line, endpoint switches,
// backoff_percentage and the read-only root view's caching.
#include "harness.hpp"

#include <ctime>
#include <filesystem>

using namespace kintod_test;
using kinto::json::value;

namespace {

/// Today plus `days`, as YYYY-MM-DD (UTC).
std::string date_in(int days) {
  std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

/// An ini as the official clients' integration suites write theirs: waitress
/// server section, `use = egg:kinto`, memory backends, the documented long
/// name of the accounts policy, the flush plugin without
/// `flush_endpoint_enabled`, settings kintod has no use for, and logging.
std::string stock_ini(const std::string& extra = "") {
  return R"(# kinto.ini of a client test suite
[server:main]
use = egg:waitress#main
host = 0.0.0.0
port = %(http_port)s

[app:main]
use = egg:kinto
kinto.project_name = kinto-test
kinto.storage_backend = kinto.core.storage.memory
kinto.storage_url =
kinto.cache_backend = kinto.core.cache.memory
kinto.cache_url =
kinto.permission_backend = kinto.core.permission.memory
kinto.permission_url =
kinto.includes = kinto.plugins.default_bucket
                 kinto.plugins.accounts
                 kinto.plugins.flush
                 kinto.plugins.history
multiauth.policies = account basicauth
multiauth.policy.account.use = kinto.plugins.accounts.authentication.AccountsAuthenticationPolicy
multiauth.policy.basicauth.use = kinto.core.authentication.BasicAuthAuthenticationPolicy
kinto.userid_hmac_secret = a-secret-for-the-tests
kinto.account_create_principals = system.Everyone
kinto.account_write_principals = account:admin
kinto.bucket_create_principals = system.Authenticated
kinto.experimental_permissions_endpoint = true
kinto.statsd_url =
)" + extra + R"(
[loggers]
keys = root, kinto

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = INFO
handlers = console

[logger_kinto]
level = DEBUG
handlers =
qualname = kinto

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s] %(message)s
)";
}

/// Runs kintod on an ini with `text` (plus `env`) and waits for it to exit.
run_result run_with_ini(const std::string& text, const std::map<std::string, std::string>& env = {}) {
  temp_dir dir;
  const std::string ini = dir.path() + "/kinto.ini";
  write_file(ini, text);
  return run_kintod({"--ini", ini, "--host", "127.0.0.1", "--port", "0"}, env);
}

std::size_t occurrences(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

} // namespace

TEST_CASE("a stock upstream client-test configuration is served as upstream serves it", "[configuration]") {
  const std::string tomorrow = date_in(1);
  kintod_process server({.env = {{"KINTO_EOS", "\"" + tomorrow + "\""}}, .ini = stock_ini()});

  // The quoted date in the environment is the date: tomorrow is a soft end.
  auto hello = server.request("GET", "/v1/");
  REQUIRE_THAT(hello, is_json(200));
  CHECK(str_at(hello.json(), "eos") == tomorrow);
  CHECK(str_at(hello.json(), "project_name") == "kinto-test");
  REQUIRE(hello.has_header("Alert"));
  CHECK(str_at(parse_json(hello.header("Alert")), "code") == "soft-eol");

  // The accounts policy under its long name authenticates accounts.
  must(server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "s3cret"}})"), 201);
  auto me = server.request("GET", "/v1/", {}, auth("alice", "s3cret"));
  REQUIRE_THAT(me, is_json(200));
  CHECK(str_at(me.json(), "user.id") == "account:alice");
  // Basicauth comes after it, as configured: a wrong account password is a
  // basicauth identity, as with upstream's multiauth.
  CHECK(str_at(must(server.request("GET", "/v1/", {}, auth("alice", "wrong")), 200), "user.id").starts_with("basicauth:"));
  CHECK(str_at(must(server.request("GET", "/v1/", {}, owner()), 200), "user.id").starts_with("basicauth:"));

  // The flush plugin alone enables the endpoint.
  CHECK(find_path(hello.json(), "capabilities.flush_endpoint") != nullptr);
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  auto flushed = server.request("POST", "/v1/__flush__");
  CHECK(flushed.status == 202);
  CHECK(str_at(must(server.request("GET", "/v1/", {}, auth("alice", "s3cret")), 200), "user.id").starts_with("basicauth:"));
  CHECK(server.request("GET", "/v1/buckets/b", {}, owner()).status == 403);

  // What kintod has no use for is listed once, by name.
  const std::string out = server.output();
  INFO(out);
  CHECK(occurrences(out, "settings not used by kintod (ignored)") == 1);
  for (const char* name : {"cache_backend", "permission_backend", "statsd_url"}) CHECK(out.find(name) != std::string::npos);
  CHECK(out.find("plugin kinto.plugins.") == std::string::npos);
}

TEST_CASE("the memory storage backend keeps nothing across restarts and leaves nothing behind", "[configuration]") {
  kintod_process server({.ini = stock_ini()});
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  const std::string out = server.output();
  const auto from = out.find("(data: ");
  REQUIRE(from != std::string::npos);
  const std::string dir = out.substr(from + 7, out.find(';', from) - from - 7);
  CHECK(std::filesystem::exists(dir));
  REQUIRE(server.stop() == 0);
  CHECK_FALSE(std::filesystem::exists(dir));
  server.start();
  CHECK(server.request("GET", "/v1/buckets/b", {}, owner()).status == 403);
}

TEST_CASE("both upstream names of each authentication policy are accepted, and only those", "[configuration]") {
  std::string account_use;
  SECTION("accounts, documented name") { account_use = "kinto.plugins.accounts.authentication.AccountsAuthenticationPolicy"; }
  SECTION("accounts, short name") { account_use = "kinto.plugins.accounts.AccountsPolicy"; }
  SECTION("accounts, colon form") { account_use = "kinto.plugins.accounts.authentication:AccountsAuthenticationPolicy"; }
  std::string basic_use;
  SECTION("basicauth, dotted name") { basic_use = "kinto.core.authentication.BasicAuthAuthenticationPolicy"; }
  SECTION("basicauth, without use") { basic_use = ""; }
  // Catch enters one SECTION per run: the other policy keeps a name known to work.
  if (account_use.empty()) account_use = "kinto.plugins.accounts.AccountsPolicy";
  std::map<std::string, std::string> settings{{"multiauth.policy.account.use", account_use}};
  std::vector<std::string> omit;
  if (basic_use.empty())
    omit.push_back("multiauth.policy.basicauth.use");
  else
    settings["multiauth.policy.basicauth.use"] = basic_use;
  INFO(account_use << " / " << basic_use);
  kintod_process server({.settings = settings, .omit = omit});
  must(server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "s3cret"}})"), 201);
  CHECK(str_at(must(server.request("GET", "/v1/", {}, auth("alice", "s3cret")), 200), "user.id") == "account:alice");
  CHECK(str_at(must(server.request("GET", "/v1/", {}, owner()), 200), "user.id") == mat_id);
}

TEST_CASE("a policy whose name merely contains an upstream policy name authenticates nobody", "[configuration]") {
  kintod_process server({.settings = {{"kinto.includes", ""},
                                      {"multiauth.policies", "basicauth"},
                                      {"multiauth.policy.basicauth.use",
                                       "my.kinto.core.authentication.BasicAuthAuthenticationPolicyTwo"}}});
  auto hello = must(server.request("GET", "/v1/", {}, owner()), 200);
  CHECK(find_path(hello, "user") == nullptr);
  CHECK(server.output().find("BasicAuthAuthenticationPolicyTwo) is not provided by kintod") != std::string::npos);
}

TEST_CASE("setting values are decoded as JSON, as upstream does, in the ini and the environment", "[configuration]") {
  SECTION("a quoted past date in KINTO_EOS is a hard end of service") {
    kintod_process server({.env = {{"KINTO_EOS", "\"" + date_in(-1) + "\""}}});
    CHECK_THAT(server.request("GET", "/v1/"), is_kinto_error(410, 202));
  }
  SECTION("a quoted future date in the ini is a soft end of service") {
    kintod_process server({.settings = {{"kinto.eos", "\"" + date_in(30) + "\""}}});
    auto hello = server.request("GET", "/v1/");
    REQUIRE_THAT(hello, is_json(200));
    CHECK(str_at(hello.json(), "eos") == date_in(30));
    CHECK(str_at(parse_json(hello.header("Alert")), "code") == "soft-eol");
  }
  SECTION("quoted numbers and JSON booleans are typed") {
    kintod_process server({.settings = {{"kinto.paginate_by", "\"2\""}, {"kinto.readonly", "false"}},
                           .env = {{"KINTO_BATCH_MAX_REQUESTS", "7"}, {"KINTO_TRAILING_SLASH_REDIRECT_ENABLED", "false"}}});
    auto hello = must(server.request("GET", "/v1/"), 200);
    CHECK(at(hello, "settings.batch_max_requests") == value(std::int64_t{7}));
    CHECK(at(hello, "settings.readonly") == value(false));
    CHECK_THAT(server.request("GET", "/v1/buckets/", {}, owner()), is_kinto_error(404, 111));
    create_collection(server, "b", "c");
    for (int i = 0; i < 3; ++i)
      must(server.request("POST", "/v1/buckets/b/collections/c/records", R"({"data": {}})", owner()), 201);
    auto page = must(server.request("GET", "/v1/buckets/b/collections/c/records", {}, owner()), 200);
    CHECK(at(page, "data").as_array().size() == 2);
  }
}

TEST_CASE("kinto.includes entries kintod does not provide are warned about, once each", "[configuration]") {
  kintod_process server({.settings = {{"kinto.includes", "kinto.plugins.accounts kinto_attachment kinto_signer"}}});
  const std::string out = server.output();
  INFO(out);
  CHECK(occurrences(out, "plugin kinto_attachment is not provided by kintod") == 1);
  CHECK(occurrences(out, "plugin kinto_signer is not provided by kintod") == 1);
  CHECK(server.healthy());
}

TEST_CASE("a setting kintod cannot use makes it exit 2 before listening, naming the setting", "[configuration]") {
  struct bad_setting {
    std::map<std::string, std::string> ini;
    std::map<std::string, std::string> env;
    std::string named;
  };
  const std::vector<bad_setting> cases{
      {{}, {{"KINTO_IO_THREADS", "-1"}}, "io_threads"},
      {{{"kinto.actor_threads", "many"}}, {}, "actor_threads"},
      {{{"kinto.actor_threads", "100000"}}, {}, "actor_threads"},
      {{{"kinto.includes", "kinto.plugins.history"}, {"kinto.history.auto_trim_max_count", "abc"}, {"multiauth.policies", "basicauth"}},
       {},
       "history.auto_trim_max_count"},
      {{{"kinto.flush_endpoint_enabled", "maybe"}}, {}, "flush_endpoint_enabled"},
      {{}, {{"KINTO_PAGINATE_BY", "-3"}}, "paginate_by"},
      {{{"kinto.backoff_percentage", "101"}}, {}, "backoff_percentage"},
      {{{"kinto.eos", "next tuesday"}}, {}, "eos"},
      {{{"kinto.readonly", "sometimes"}}, {}, "readonly"},
      {{{"kinto.storage_map_size", "12"}}, {}, "storage_map_size"},
      {{{"kinto.plural_bucket_post_enabled", "nope"}}, {}, "plural_bucket_post_enabled"},
      {{{"kinto.log_format", "xml"}}, {}, "log_format"},
      {{}, {{"KINTO_LOG_LEVEL", "loud"}}, "log_level"},
  };
  for (const auto& bad : cases) {
    // The LMDB map size means nothing to a PostgreSQL database.
    if (on_postgresql() && bad.named == "storage_map_size") continue;
    temp_dir data;
    auto settings = default_settings(data.path());
    for (const auto& [k, v] : bad.ini) settings[k] = v;
    auto result = run_with_ini(ini_text(settings), bad.env);
    INFO("expected to name " << bad.named);
    INFO(result.output);
    CHECK(result.exit_status == 2);
    CHECK(result.output.find("setting " + bad.named) != std::string::npos);
    CHECK(result.output.find("listening") == std::string::npos);
  }
}

TEST_CASE("<type>_<resource>_<method>_enabled = false turns one endpoint method off", "[configuration]") {
  kintod_process server({.settings = {{"kinto.plural_bucket_post_enabled", "false"},
                                      {"kinto.object_collection_delete_enabled", "false"}}});
  create_collection(server, "b", "c");

  auto refused = server.request("POST", "/v1/buckets", R"({"data": {"id": "x"}})", owner());
  CHECK_THAT(refused, is_kinto_error(405, 115));
  CHECK(refused.header("Allow").find("POST") == std::string::npos);
  CHECK(refused.header("Allow").find("GET") != std::string::npos);
  CHECK(server.request("GET", "/v1/buckets/x", {}, owner()).status == 403);
  CHECK_THAT(server.request("GET", "/v1/buckets", {}, owner()), is_json(200));
  CHECK(server.request("PUT", "/v1/buckets/y", {}, owner()).status == 201);

  CHECK_THAT(server.request("DELETE", "/v1/buckets/b/collections/c", {}, owner()), is_kinto_error(405, 115));
  CHECK_THAT(server.request("GET", "/v1/buckets/b/collections/c", {}, owner()), is_json(200));
  CHECK(server.request("DELETE", "/v1/buckets/b/collections", {}, owner()).status == 200);

  // The same inside a batch.
  auto batch = must(server.request("POST", "/v1/batch",
                                   R"({"requests": [{"method": "POST", "path": "/buckets", "body": {"data": {"id": "z"}}}]})",
                                   owner()),
                    200);
  CHECK(int_at(batch, "responses.0.status") == 405);
  CHECK(server.request("GET", "/v1/buckets/z", {}, owner()).status == 403);

  // And the OpenAPI document no longer offers it.
  auto api = must(server.request("GET", "/v1/__api__"), 200);
  CHECK(find_path(api, "paths./buckets.get") != nullptr);
  CHECK(find_path(api, "paths./buckets.post") == nullptr);
}

TEST_CASE("backoff_percentage sends Backoff to that share of responses", "[configuration]") {
  SECTION("0: never") {
    kintod_process server({.settings = {{"kinto.backoff", "10"}, {"kinto.backoff_percentage", "0"}}});
    auto connection = server.connect();
    for (int i = 0; i < 50; ++i) CHECK_FALSE(connection->request("GET", "/v1/").has_header("Backoff"));
  }
  SECTION("100: always") {
    kintod_process server({.settings = {{"kinto.backoff", "10"}, {"kinto.backoff_percentage", "100"}}});
    auto connection = server.connect();
    for (int i = 0; i < 50; ++i) CHECK(connection->request("GET", "/v1/").header("Backoff") == "10");
  }
  SECTION("50: some, not all (the chance of 200 identical draws is 2^-199)") {
    kintod_process server({.settings = {{"kinto.backoff", "10"}, {"kinto.backoff_percentage", "50"}}});
    auto connection = server.connect();
    int with = 0;
    for (int i = 0; i < 200; ++i) with += connection->request("GET", "/v1/").has_header("Backoff") ? 1 : 0;
    CHECK(with > 0);
    CHECK(with < 200);
  }
}

TEST_CASE("in read-only mode the root view is cached for root_cache_expires_seconds", "[configuration]") {
  SECTION("read-only") {
    kintod_process server({.settings = {{"kinto.readonly", "true"}, {"kinto.root_cache_expires_seconds", "42"}}});
    auto hello = server.request("GET", "/v1/");
    REQUIRE_THAT(hello, is_json(200));
    CHECK(hello.header("Cache-Control") == "max-age=42");
    CHECK(hello.has_header("Expires"));
  }
  SECTION("writable: never cached") {
    kintod_process server({.settings = {{"kinto.root_cache_expires_seconds", "42"}}});
    auto hello = server.request("GET", "/v1/");
    REQUIRE_THAT(hello, is_json(200));
    CHECK(hello.header("Cache-Control").find("max-age=42") == std::string::npos);
  }
}

TEST_CASE("__version__ and kintod --version give the build's source, version, commit and build", "[configuration]") {
  auto printed = run_kintod({"--version"});
  REQUIRE(printed.exit_status == 0);
  const value build = parse_json(printed.output);
  CHECK(keys_at(build) == std::vector<std::string>{"build", "commit", "source", "version"});
  for (const char* key : {"build", "commit", "source", "version"}) CHECK(at(build, key).is_string());
  CHECK_FALSE(str_at(build, "version").empty());
  CHECK_FALSE(str_at(build, "commit").empty());

  SECTION("no version file configured") {
    kintod_process server;
    auto r = server.request("GET", "/v1/__version__");
    REQUIRE_THAT(r, is_json(200));
    CHECK(r.json() == build);
  }
  SECTION("a configured version file that does not exist") {
    kintod_process server({.settings = {{"kinto.version_json_path", "/nonexistent/version.json"}}});
    auto r = server.request("GET", "/v1/__version__");
    REQUIRE_THAT(r, is_json(200));
    CHECK(r.json() == build);
  }
}

TEST_CASE("basicauth listed before account is honoured, as upstream, with a warning", "[configuration]") {
  kintod_process server({.settings = {{"multiauth.policies", "basicauth account"}}});
  CHECK(server.output().find("lists basicauth before account") != std::string::npos);
  must(server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "s3cret"}})"), 201);
  // Basicauth answers first: alice is a basicauth user, whatever her password.
  CHECK(str_at(must(server.request("GET", "/v1/", {}, auth("alice", "s3cret")), 200), "user.id").starts_with("basicauth:"));
}
