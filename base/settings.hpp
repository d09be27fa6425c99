// Settings of a kintod instance: an upstream-style kinto.ini, overridden by
// KINTO_<NAME> environment variables, overridden by command-line flags.
// Names are upstream's, without the `kinto.` prefix; values are decoded as
// upstream decodes them (a value that parses as JSON is that JSON value).
// setting_reader reads them once at start, checking types and ranges.
// Depends on base/json only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kinto {

class settings {
public:
  /// Parses the text of an ini file. `[app:main]` keys become settings (a
  /// `kinto.` prefix is stripped; giving both `kinto.x` and `x` with different
  /// values is an error). `[server:main]` `host` and `port` become
  /// `server.host` and `server.port`. Other sections (loggers, handlers,
  /// formatters, pipeline, uwsgi...) are ignored. Keys are lower-cased;
  /// indented lines continue the previous value (joined with '\n');
  /// lines starting with '#' or ';' are comments; `%(here)s` expands to
  /// `ini_dir` (and `%(__file__)s` to the file, `%(http_port)s` to 8888, as
  /// `kinto start` does, and `%(name)s` to a key of `[DEFAULT]`). On a
  /// malformed file returns nullopt with `error` set to a message naming
  /// the line.
  [[nodiscard]] static std::optional<settings> from_ini(std::string_view text, std::string_view ini_dir,
                                                        std::string& error);

  /// Sets (or overrides) one setting; the name may carry the `kinto.` prefix.
  void set(std::string_view name, std::string value);

  /// The value of a setting: the environment variable KINTO_<NAME> if set,
  /// else <NAME> from the environment, else the stored value (NAME is the
  /// setting name upper-cased with '.' and '-' replaced by '_').
  /// Settings set by set() after construction from the command line use
  /// `set_override`, which beats the environment. The value is decoded by
  /// native_value(), as upstream decodes the ini and the environment.
  std::optional<std::string> get(std::string_view name) const;
  void set_override(std::string_view name, std::string value);
  /// Where get() finds the setting: "environment variable KINTO_X", or
  /// empty for the ini file, the defaults and the command line.
  std::string origin(std::string_view name) const;

  /// Every stored setting (file and overrides, not the environment).
  const std::map<std::string, std::string, std::less<>>& stored() const { return values_; }

private:
  std::map<std::string, std::string, std::less<>> values_;
  std::map<std::string, std::string, std::less<>> overrides_;
};

/// Reads the settings kintod uses, once at start: typed getters that note
/// every name they are asked for and every value of the wrong type or out of
/// range (by setting name), so that start-up can refuse a bad configuration
/// as a whole and list the settings that nothing read.
class setting_reader {
public:
  explicit setting_reader(const settings& s) : s_(s) {}

  /// The decoded value, if set; marks the name as read.
  std::optional<std::string> value(std::string_view name);
  std::string text(std::string_view name, std::string_view fallback);
  /// A boolean word (parse_bool); fallback when unset or empty.
  bool flag(std::string_view name, bool fallback);
  /// A decimal integer within [min, max]; fallback when unset or empty.
  std::int64_t integer(std::string_view name, std::int64_t fallback, std::int64_t min, std::int64_t max);
  /// The same without a default: nullopt when unset or empty.
  std::optional<std::int64_t> optional_integer(std::string_view name, std::int64_t min, std::int64_t max);
  /// A decimal number (`12`, `2.5`) within [min, max]; nullopt when unset or empty.
  std::optional<double> optional_number(std::string_view name, double min, double max);
  /// A whitespace-separated list; empty when unset.
  std::vector<std::string> words(std::string_view name);
  /// Notes a problem with a setting's value ("<name> = <value>: <why>").
  void reject(std::string_view name, std::string_view why);

  /// Notes something worth telling at start (a plugin or policy that is
  /// not provided...).
  void warn(std::string message) { warnings_.push_back(std::move(message)); }
  const std::vector<std::string>& warnings() const { return warnings_; }

  /// Problems found so far, one message per bad setting.
  const std::vector<std::string>& problems() const { return problems_; }
  /// Stored settings (from the ini file) that nothing has read, sorted.
  std::vector<std::string> unread() const;
  const settings& source() const { return s_; }

private:
  const settings& s_;
  std::set<std::string, std::less<>> read_;
  std::vector<std::string> problems_;
  std::vector<std::string> warnings_;
};

/// Upstream's native_value(): a value that parses as JSON is taken as that
/// JSON value: a string is its contents, `true`/`false` and numbers their
/// text, `null` empty, an array its items one per line (a list); anything
/// else is kept as written.
std::string native_value(std::string_view raw);
/// Parses a boolean as upstream does; nullopt for anything else.
std::optional<bool> parse_bool(std::string_view text);
/// Splits on ASCII whitespace (spaces, tabs, newlines), dropping empty parts.
std::vector<std::string> split_words(std::string_view text);

} // namespace kinto
