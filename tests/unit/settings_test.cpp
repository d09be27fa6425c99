// Unit tests for base/settings: ini parsing as upstream reads kinto.ini,
// environment and command-line precedence, typed getters. No server, no disk.
#include "base/settings.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>

using kinto::setting_reader;
using kinto::settings;

namespace {

/// Sets (or unsets) one environment variable for a scope, restoring it after.
class env_guard {
public:
  env_guard(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) {
      old_ = old;
    }
    if (value != nullptr) {
      ::setenv(name_.c_str(), value, 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~env_guard() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  env_guard(const env_guard&) = delete;
  env_guard& operator=(const env_guard&) = delete;

private:
  std::string name_;
  std::optional<std::string> old_;
};

settings parse_ok(std::string_view text, std::string_view here = "/etc/kinto") {
  std::string error;
  std::optional<settings> s = settings::from_ini(text, here, error);
  INFO("error: " << error);
  REQUIRE(s.has_value());
  return *s;
}

std::string parse_error(std::string_view text) {
  std::string error;
  const std::optional<settings> s = settings::from_ini(text, "/etc/kinto", error);
  REQUIRE_FALSE(s.has_value());
  return error;
}

std::optional<std::string> stored(const settings& s, std::string_view name) {
  const auto it = s.stored().find(name);
  if (it == s.stored().end()) {
    return std::nullopt;
  }
  return it->second;
}

constexpr std::string_view upstream_ini = R"ini(# Created at Mon, 01 Jan 2024 10:00:00 +0000
# Using Kinto version 19.0.0

[server:main]
use = egg:waitress#main
host = 0.0.0.0
port = 8888


[app:main]
use = egg:kinto

# Feature settings
# https://kinto.readthedocs.io/en/latest/configuration/settings.html#feature-settings
#
# kinto.readonly = false
# kinto.batch_max_requests = 25
# kinto.paginate_by =

#
# Backends.
#
kinto.storage_backend = kinto.core.storage.memory
kinto.storage_url =
kinto.cache_backend = kinto.core.cache.memory
kinto.permission_backend = kinto.core.permission.memory

kinto.includes = kinto.plugins.default_bucket
    kinto.plugins.admin

multiauth.policies = account
multiauth.policy.account.use = kinto.plugins.accounts.AccountsPolicy
kinto.userid_hmac_secret = 1e3a5b0b8c0c4d2f9e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a
kinto.account_create_principals = system.Everyone
kinto.account_write_principals = account:admin
kinto.version_json_path = %(here)s/version.json

[uwsgi]
wsgi-file = app.wsgi
enable-threads = true
socket = /var/run/uwsgi/kinto.sock
processes =  3
master = true

[loggers]
keys = root, kinto

[handlers]
keys = console

[formatters]
keys = color

[logger_root]
level = INFO
handlers = console

[logger_kinto]
level = DEBUG
handlers = console
qualname = kinto

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = color

[formatter_color]
class = logging_color_formatter.ColorFormatter
format = %(asctime)s %(levelname)-5.5s [%(name)s][%(threadName)s] %(message)s
)ini";

} // namespace

TEST_CASE("an upstream kinto.ini keeps the app:main settings without their kinto. prefix") {
  const settings s = parse_ok(upstream_ini);
  CHECK(stored(s, "storage_backend") == "kinto.core.storage.memory");
  CHECK(stored(s, "cache_backend") == "kinto.core.cache.memory");
  CHECK(stored(s, "storage_url") == "");
  CHECK(stored(s, "multiauth.policies") == "account");
  CHECK(stored(s, "multiauth.policy.account.use") == "kinto.plugins.accounts.AccountsPolicy");
  CHECK(stored(s, "account_write_principals") == "account:admin");
  CHECK_FALSE(stored(s, "use").has_value());
  CHECK_FALSE(stored(s, "kinto.storage_backend").has_value());
}

TEST_CASE("an upstream kinto.ini takes host and port from server:main") {
  const settings s = parse_ok(upstream_ini);
  CHECK(stored(s, "server.host") == "0.0.0.0");
  CHECK(stored(s, "server.port") == "8888");
  CHECK_FALSE(stored(s, "server.use").has_value());
  CHECK_FALSE(stored(s, "use").has_value());
}

TEST_CASE("an upstream kinto.ini reads a multi-line includes as a list") {
  const settings s = parse_ok(upstream_ini);
  CHECK(stored(s, "includes") == "kinto.plugins.default_bucket\nkinto.plugins.admin");
  const env_guard a("KINTO_INCLUDES", nullptr);
  const env_guard b("INCLUDES", nullptr);
  CHECK(kinto::split_words(s.get("includes").value_or("")) == std::vector<std::string>{"kinto.plugins.default_bucket", "kinto.plugins.admin"});
}

TEST_CASE("an upstream kinto.ini expands %(here)s to the ini directory") {
  const settings s = parse_ok(upstream_ini, "/srv/kinto");
  CHECK(stored(s, "version_json_path") == "/srv/kinto/version.json");
}

TEST_CASE("logging and uwsgi sections are ignored, interpolation included") {
  const settings s = parse_ok(upstream_ini);
  CHECK_FALSE(stored(s, "keys").has_value());
  CHECK_FALSE(stored(s, "format").has_value());
  CHECK_FALSE(stored(s, "wsgi-file").has_value());
  CHECK_FALSE(stored(s, "level").has_value());
}

TEST_CASE("commented-out settings are not stored") {
  const settings s = parse_ok(upstream_ini);
  CHECK_FALSE(stored(s, "readonly").has_value());
  CHECK_FALSE(stored(s, "paginate_by").has_value());
  CHECK_FALSE(stored(s, "batch_max_requests").has_value());
}

TEST_CASE("keys are lower-cased and trimmed, values trimmed, ':' works as '='") {
  const settings s = parse_ok("[app:main]\n  Kinto.Paginate_By   =   5   \nproject_name: my kinto \n");
  CHECK(stored(s, "paginate_by") == "5");
  CHECK(stored(s, "project_name") == "my kinto");
}

TEST_CASE("the first '=' or ':' separates key from value") {
  const settings s = parse_ok("[app:main]\nstorage_url = postgresql://user:pass@host/db?a=b\nx: y = z\n");
  CHECK(stored(s, "storage_url") == "postgresql://user:pass@host/db?a=b");
  CHECK(stored(s, "x") == "y = z");
}

TEST_CASE("a '#' after a value is part of the value") {
  const settings s = parse_ok("[app:main]\nproject_name = kinto # the name\n");
  CHECK(stored(s, "project_name") == "kinto # the name");
}

TEST_CASE("comment lines, indented or not, are skipped even inside a multi-line value") {
  const settings s = parse_ok("[app:main]\n"
                              "; a comment\n"
                              "includes = a\n"
                              "    # an indented comment\n"
                              "    b\n"
                              "  ; another\n"
                              "    c\n");
  CHECK(stored(s, "includes") == "a\nb\nc");
}

TEST_CASE("continuation lines must be indented deeper than their key") {
  const settings s = parse_ok("[app:main]\n"
                              "  includes = a\n"
                              "  project_name = p\n"
                              "      b\n");
  CHECK(stored(s, "includes") == "a");
  CHECK(stored(s, "project_name") == "p\nb");
}

TEST_CASE("a value starting on the next line keeps configparser's leading newline") {
  const settings s = parse_ok("[app:main]\nincludes =\n    a\n    b\n");
  CHECK(stored(s, "includes") == "\na\nb");
  const env_guard a("KINTO_INCLUDES", nullptr);
  const env_guard b("INCLUDES", nullptr);
  CHECK(kinto::split_words(s.get("includes").value_or("")) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("blank lines inside a multi-line value are kept, trailing ones dropped") {
  const settings s = parse_ok("[app:main]\n"
                              "includes = a\n"
                              "\n"
                              "    b\n"
                              "\n"
                              "\n"
                              "project_name = p\n");
  CHECK(stored(s, "includes") == "a\n\nb");
  CHECK(stored(s, "project_name") == "p");
}

TEST_CASE("CRLF line endings are accepted") {
  const settings s = parse_ok("[app:main]\r\nincludes = a\r\n  b\r\nproject_name = p\r\n");
  CHECK(stored(s, "includes") == "a\nb");
  CHECK(stored(s, "project_name") == "p");
}

TEST_CASE("%% in a kept section is a literal percent sign") {
  const settings s = parse_ok("[app:main]\nstorage_url = postgresql://u:p%%40ss@h/db\n");
  CHECK(stored(s, "storage_url") == "postgresql://u:p%40ss@h/db");
}

TEST_CASE("%(here)s also expands in server:main and more than once per value") {
  const settings s = parse_ok("[server:main]\nhost = %(here)s\n[app:main]\nx = %(here)s:%(HERE)s\n", "/d");
  CHECK(stored(s, "server.host") == "/d");
  CHECK(stored(s, "x") == "/d:/d");
}

TEST_CASE("a bad interpolation in a kept section is an error naming its line") {
  SECTION("unknown name") {
    const std::string error = parse_error("[app:main]\na = 1\nb = %(foo)s\n");
    CHECK(error.find("line 3") != std::string::npos);
    CHECK(error.find("foo") != std::string::npos);
  }
  SECTION("stray percent") {
    CHECK(parse_error("[app:main]\nb = 50%\n").find("line 2") != std::string::npos);
  }
  SECTION("unterminated reference") {
    CHECK(parse_error("[app:main]\n\nb = %(here)\n").find("line 3") != std::string::npos);
  }
}

TEST_CASE("kinto.x and x with different values are in conflict") {
  const std::string error = parse_error("[app:main]\nkinto.paginate_by = 5\npaginate_by = 10\n");
  CHECK(error.find("line 3") != std::string::npos);
  CHECK(error.find("kinto.paginate_by") != std::string::npos);
}

TEST_CASE("kinto.x and x with the same value are accepted") {
  const settings s = parse_ok("[app:main]\npaginate_by = 5\nkinto.paginate_by = 5\n");
  CHECK(stored(s, "paginate_by") == "5");
  CHECK(s.stored().size() == 1);
}

TEST_CASE("a setting before any section header is an error naming line 1") {
  CHECK(parse_error("paginate_by = 5\n[app:main]\n").find("line 1") != std::string::npos);
}

TEST_CASE("a line without '=' or ':' is an error naming its line") {
  CHECK(parse_error("[app:main]\n# fine\npaginate_by 5\n").find("line 3") != std::string::npos);
}

TEST_CASE("an unclosed section header is an error naming its line") {
  SECTION("plain") { CHECK(parse_error("[app:main]\na = 1\n[loggers\n").find("line 3") != std::string::npos); }
  SECTION("with a colon") { CHECK(parse_error("[app:main\n").find("line 1") != std::string::npos); }
  SECTION("empty name") { CHECK(parse_error("[]\n").find("line 1") != std::string::npos); }
}

TEST_CASE("an empty key is an error") { CHECK(parse_error("[app:main]\n = 5\n").find("line 2") != std::string::npos); }

TEST_CASE("a key given twice in one section is an error even with the same value") {
  const std::string error = parse_error("[app:main]\npaginate_by = 5\nPaginate_By = 5\n");
  CHECK(error.find("line 3") != std::string::npos);
  CHECK(error.find("paginate_by") != std::string::npos);
}

TEST_CASE("a key given twice in an ignored section is an error too") {
  CHECK(parse_error("[loggers]\nkeys = root\nkeys = kinto\n").find("line 3") != std::string::npos);
}

TEST_CASE("a section given twice is an error") {
  CHECK(parse_error("[app:main]\na = 1\n\n[app:main]\nb = 2\n").find("line 4") != std::string::npos);
}

TEST_CASE("an empty file gives no settings") {
  CHECK(parse_ok("").stored().empty());
  CHECK(parse_ok("\n# only a comment\n\n").stored().empty());
}

TEST_CASE("a KINTO_ environment variable beats the stored value") {
  settings s = parse_ok("[app:main]\nkinto.paginate_by = 5\n");
  const env_guard plain("PAGINATE_BY", nullptr);
  {
    const env_guard prefixed("KINTO_PAGINATE_BY", "7");
    CHECK(s.get("paginate_by") == "7");
    CHECK(s.get("kinto.paginate_by") == "7");
  }
  CHECK(s.get("paginate_by") == "5");
}

TEST_CASE("an unprefixed environment variable beats the stored value but not KINTO_") {
  const settings s = parse_ok("[app:main]\npaginate_by = 5\n");
  const env_guard plain("PAGINATE_BY", "8");
  {
    const env_guard prefixed("KINTO_PAGINATE_BY", nullptr);
    CHECK(s.get("paginate_by") == "8");
  }
  const env_guard prefixed("KINTO_PAGINATE_BY", "9");
  CHECK(s.get("paginate_by") == "9");
}

TEST_CASE("the environment gives settings absent from the file") {
  const settings s;
  const env_guard plain("KINTOD_TEST_ONLY_IN_ENV", nullptr);
  CHECK_FALSE(s.get("kintod_test_only_in_env").has_value());
  const env_guard prefixed("KINTO_KINTOD_TEST_ONLY_IN_ENV", "x");
  CHECK(s.get("kintod_test_only_in_env") == "x");
}

TEST_CASE("environment names replace '.' and '-' with '_' and are upper-cased") {
  const settings s;
  const env_guard a("KINTO_KINTOD_TEST_USER_DATA_DELETE_PRINCIPALS", "account:admin");
  const env_guard b("KINTO_KINTOD_TEST_MULTIAUTH_POLICIES", "basicauth");
  CHECK(s.get("kintod_test_user-data_delete_principals") == "account:admin");
  CHECK(s.get("kintod_test.multiauth.policies") == "basicauth");
}

TEST_CASE("an empty environment variable is still a value") {
  const settings s = parse_ok("[app:main]\nkintod_test_max_age = 3600\n");
  const env_guard plain("KINTOD_TEST_MAX_AGE", nullptr);
  const env_guard prefixed("KINTO_KINTOD_TEST_MAX_AGE", "");
  CHECK(s.get("kintod_test_max_age") == "");
}

TEST_CASE("a command-line override beats the environment") {
  settings s = parse_ok("[app:main]\npaginate_by = 5\n");
  const env_guard plain("PAGINATE_BY", "8");
  const env_guard prefixed("KINTO_PAGINATE_BY", "9");
  s.set_override("kinto.paginate_by", "3");
  CHECK(s.get("paginate_by") == "3");
}

TEST_CASE("set() replaces a stored value but loses to the environment") {
  settings s = parse_ok("[app:main]\nkintod_test_setting = 5\n");
  const env_guard plain("KINTOD_TEST_SETTING", nullptr);
  s.set("kinto.kintod_test_setting", "6");
  {
    const env_guard prefixed("KINTO_KINTOD_TEST_SETTING", nullptr);
    CHECK(s.get("kintod_test_setting") == "6");
  }
  const env_guard prefixed("KINTO_KINTOD_TEST_SETTING", "7");
  CHECK(s.get("kintod_test_setting") == "7");
}

TEST_CASE("stored() lists file values and overrides but not the environment") {
  settings s = parse_ok("[app:main]\nkintod_test_a = 1\n");
  const env_guard env("KINTO_KINTOD_TEST_B", "2");
  s.set_override("kintod_test_c", "3");
  CHECK(stored(s, "kintod_test_a") == "1");
  CHECK_FALSE(stored(s, "kintod_test_b").has_value());
  CHECK(stored(s, "kintod_test_c") == "3");
}

TEST_CASE("text returns the fallback only when the setting is unset") {
  settings s;
  setting_reader r(s);
  CHECK(r.text("kintod_test_name", "dflt") == "dflt");
  s.set("kintod_test_name", "");
  CHECK(r.text("kintod_test_name", "dflt") == "");
}

TEST_CASE("flag reads upstream's boolean words in any case, JSON booleans included") {
  settings s;
  for (const char* word : {"true", "TRUE", "Yes", "on", "1", " true ", "t", "Y", "\"true\""}) {
    s.set("kintod_test_flag", word);
    setting_reader r(s);
    INFO(word);
    CHECK(r.flag("kintod_test_flag", false));
    CHECK(r.problems().empty());
  }
  for (const char* word : {"false", "False", "NO", "off", "0", "f", "n"}) {
    s.set("kintod_test_flag", word);
    setting_reader r(s);
    INFO(word);
    CHECK_FALSE(r.flag("kintod_test_flag", true));
    CHECK(r.problems().empty());
  }
}

TEST_CASE("flag falls back silently when unset, empty or null") {
  settings s;
  setting_reader r(s);
  CHECK(r.flag("kintod_test_flag", true));
  s.set("kintod_test_flag", "");
  CHECK_FALSE(r.flag("kintod_test_flag", false));
  s.set("kintod_test_flag", "null");
  CHECK(r.flag("kintod_test_flag", true));
  CHECK(r.problems().empty());
}

TEST_CASE("flag reports junk by the setting's name and value") {
  settings s;
  s.set("kinto.flush_endpoint_enabled", "maybe");
  setting_reader r(s);
  CHECK(r.flag("flush_endpoint_enabled", true));
  REQUIRE(r.problems().size() == 1);
  CHECK(r.problems()[0].find("flush_endpoint_enabled = 'maybe'") != std::string::npos);
  CHECK(r.problems()[0].find("boolean") != std::string::npos);
}

TEST_CASE("flag reads the environment, and a problem there names the variable") {
  const settings s;
  const env_guard env("KINTO_KINTOD_TEST_READONLY", "true");
  setting_reader r(s);
  CHECK(r.flag("kintod_test_readonly", false));
  const env_guard junk("KINTO_KINTOD_TEST_OTHER", "perhaps");
  CHECK_FALSE(r.flag("kintod_test_other", false));
  REQUIRE(r.problems().size() == 1);
  CHECK(r.problems()[0].find("environment variable KINTO_KINTOD_TEST_OTHER") != std::string::npos);
}

TEST_CASE("a problem never shows a secret, nor the password of a URL") {
  settings s;
  s.set("userid_hmac_secret", "s3cr3t-value");
  s.set("storage_url", "postgresql://kinto:pa55word@db.example:5432/kinto");
  setting_reader r(s);
  r.reject("userid_hmac_secret", "too short");
  r.reject("storage_url", "unreachable");
  REQUIRE(r.problems().size() == 2);
  CHECK(r.problems()[0].find("s3cr3t") == std::string::npos);
  CHECK(r.problems()[0].find("too short") != std::string::npos);
  CHECK(r.problems()[1].find("pa55word") == std::string::npos);
  CHECK(r.problems()[1].find("'postgresql://kinto:***@db.example:5432/kinto'") != std::string::npos);
}

TEST_CASE("integer reads signed decimal integers within its range") {
  settings s;
  setting_reader r(s);
  s.set("kintod_test_n", "42");
  CHECK(r.integer("kintod_test_n", 0, INT64_MIN, INT64_MAX) == 42);
  s.set("kintod_test_n", "-1");
  CHECK(r.integer("kintod_test_n", 0, -1, 10) == -1);
  s.set("kintod_test_n", "+7");
  CHECK(r.integer("kintod_test_n", 0, 0, 10) == 7);
  s.set("kintod_test_n", "9223372036854775807");
  CHECK(r.integer("kintod_test_n", 0, 0, INT64_MAX) == INT64_MAX);
  s.set("kintod_test_n", "\"12\"");
  CHECK(r.integer("kintod_test_n", 0, 0, 100) == 12);
  CHECK(r.problems().empty());
}

TEST_CASE("integer falls back silently when unset or empty") {
  settings s;
  setting_reader r(s);
  CHECK(r.integer("kintod_test_n", 25, 0, 100) == 25);
  s.set("kintod_test_n", "");
  CHECK(r.integer("kintod_test_n", 26, 0, 100) == 26);
  CHECK_FALSE(r.optional_integer("kintod_test_n", 0, 100).has_value());
  CHECK(r.problems().empty());
}

TEST_CASE("integer reports junk and values out of range") {
  settings s;
  for (const char* junk : {"ten", "10s", "1.5", "+", "-", "+-3", "0x10", "1 0", "99999999999999999999", "true", "-1", "101"}) {
    s.set("kintod_test_n", junk);
    setting_reader r(s);
    INFO(junk);
    CHECK(r.integer("kintod_test_n", 3, 0, 100) == 3);
    REQUIRE(r.problems().size() == 1);
    CHECK(r.problems()[0].find("kintod_test_n") != std::string::npos);
    CHECK(r.problems()[0].find("from 0 to 100") != std::string::npos);
  }
}

TEST_CASE("words splits on any whitespace and is empty when unset") {
  settings s;
  setting_reader r(s);
  CHECK(r.words("kintod_test_principals").empty());
  s.set("kintod_test_principals", " system.Authenticated\taccount:alice\n\n account:bob ");
  CHECK(r.words("kintod_test_principals") ==
        std::vector<std::string>{"system.Authenticated", "account:alice", "account:bob"});
  s.set("kintod_test_principals", R"(["account:carol", "system.Everyone"])");
  CHECK(r.words("kintod_test_principals") == std::vector<std::string>{"account:carol", "system.Everyone"});
}

TEST_CASE("unread lists the stored settings nothing asked for") {
  settings s = parse_ok("[app:main]\nuse = egg:kinto\nkinto.paginate_by = 5\ncache_backend = x\npyramid.debug_all = true\n");
  setting_reader r(s);
  CHECK(r.integer("paginate_by", 0, 1, 100) == 5);
  CHECK(r.unread() == std::vector<std::string>{"cache_backend", "pyramid.debug_all"});
}

TEST_CASE("values are decoded as upstream's native_value decodes them") {
  using kinto::native_value;
  CHECK(native_value("\"2027-01-01\"") == "2027-01-01");
  CHECK(native_value("2027-01-01") == "2027-01-01");
  CHECK(native_value("true") == "true");
  CHECK(native_value(" 10 ") == "10");
  CHECK(native_value("-1") == "-1");
  CHECK(native_value("null").empty());
  CHECK(native_value(R"(["a", "b"])") == "a\nb");
  CHECK(native_value(R"({"a": 1})") == R"({"a": 1})");
  CHECK(native_value("\"unterminated") == "\"unterminated");
  CHECK(native_value("kinto.plugins.accounts") == "kinto.plugins.accounts");
  CHECK(native_value("1e3a5b0b8c") == "1e3a5b0b8c");
  CHECK(native_value("") == "");
}

TEST_CASE("a quoted value is decoded in the ini and in the environment alike") {
  settings s = parse_ok("[app:main]\nkinto.eos = \"2030-05-01\"\n");
  CHECK(s.get("eos") == "2030-05-01");
  const env_guard env("KINTO_EOS_MESSAGE", "\"Bye now\"");
  CHECK(s.get("eos_message") == "Bye now");
}

TEST_CASE("%(http_port)s is 8888 and [DEFAULT] keys interpolate, as paste deploy gives them") {
  settings s = parse_ok("[server:main]\nport = %(http_port)s\n[app:main]\nkinto.storage_url = %(here)s/data\n");
  CHECK(stored(s, "server.port") == "8888");
  settings d = parse_ok("[DEFAULT]\nhttp_port = 9999\nroot = %(here)s/srv\n[server:main]\nport = %(http_port)s\n"
                        "[app:main]\nkinto.storage_url = %(root)s/data\n");
  CHECK(stored(d, "server.port") == "9999");
  CHECK(stored(d, "storage_url") == "/etc/kinto/srv/data");
  CHECK_FALSE(stored(d, "root").has_value());
}

TEST_CASE("interpolation that refers to itself is an error, not a loop") {
  CHECK(parse_error("[DEFAULT]\na = %(a)s\n[app:main]\nx = %(a)s\n").find("line 4") != std::string::npos);
}

TEST_CASE("paste deploy's use = line is not a setting") {
  settings s = parse_ok("[app:main]\nuse = egg:kinto\n");
  CHECK(s.stored().empty());
}

TEST_CASE("split_words drops empty parts") {
  CHECK(kinto::split_words("").empty());
  CHECK(kinto::split_words(" \n\t ").empty());
  CHECK(kinto::split_words("a  b\r\nc") == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("parse_bool rejects anything but the boolean words") {
  CHECK(kinto::parse_bool("Off") == false);
  CHECK(kinto::parse_bool("YES") == true);
  CHECK_FALSE(kinto::parse_bool("").has_value());
  CHECK(kinto::parse_bool("t") == true);
  CHECK_FALSE(kinto::parse_bool("2").has_value());
  CHECK_FALSE(kinto::parse_bool("truee").has_value());
}

TEST_CASE("optional_number reads decimal numbers within the range and reports the rest") {
  settings s;
  for (const auto& [text, expected] : std::vector<std::pair<std::string, double>>{{"2.5", 2.5}, {" 100 ", 100}, {"0", 0}}) {
    s.set("kintod_test_share", text);
    setting_reader r(s);
    INFO(text);
    CHECK(r.optional_number("kintod_test_share", 0, 100) == expected);
    CHECK(r.problems().empty());
  }
  for (const char* junk : {"abc", "12%", "-1", "100.5", "1e400", "nan"}) {
    s.set("kintod_test_share", junk);
    setting_reader r(s);
    INFO(junk);
    CHECK_FALSE(r.optional_number("kintod_test_share", 0, 100));
    REQUIRE(r.problems().size() == 1);
    CHECK(r.problems()[0].find("kintod_test_share") != std::string::npos);
  }
  s.set("kintod_test_share", "");
  setting_reader r(s);
  CHECK_FALSE(r.optional_number("kintod_test_share", 0, 100));
  CHECK(r.problems().empty());
}
