// Settings of a kintod instance: an upstream-style kinto.ini, overridden by
// KINTO_<NAME> environment variables, overridden by command-line flags.
// Names are upstream's, without the `kinto.` prefix. Depends on nothing else.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
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
  /// `ini_dir`. On a malformed file returns nullopt with `error` set to a
  /// message naming the line.
  [[nodiscard]] static std::optional<settings> from_ini(std::string_view text, std::string_view ini_dir,
                                                        std::string& error);

  /// Sets (or overrides) one setting; the name may carry the `kinto.` prefix.
  void set(std::string_view name, std::string value);

  /// The value of a setting: the environment variable KINTO_<NAME> if set,
  /// else <NAME> from the environment, else the stored value (NAME is the
  /// setting name upper-cased with '.' and '-' replaced by '_').
  /// Settings set by set() after construction from the command line use
  /// `set_override`, which beats the environment.
  std::optional<std::string> get(std::string_view name) const;
  void set_override(std::string_view name, std::string value);

  std::string get_string(std::string_view name, std::string_view fallback) const;
  /// true/false, yes/no, on/off, 1/0 (any case); fallback when unset or empty;
  /// nullopt-like behaviour for junk is reported through `bad` when given.
  bool get_bool(std::string_view name, bool fallback, bool* bad = nullptr) const;
  std::int64_t get_int(std::string_view name, std::int64_t fallback, bool* bad = nullptr) const;
  /// Whitespace- or newline-separated list; empty when unset.
  std::vector<std::string> get_list(std::string_view name) const;

  /// Every stored setting (file and overrides, not the environment).
  const std::map<std::string, std::string, std::less<>>& stored() const { return values_; }

private:
  std::map<std::string, std::string, std::less<>> values_;
  std::map<std::string, std::string, std::less<>> overrides_;
};

/// Parses a boolean as upstream does; nullopt for anything else.
std::optional<bool> parse_bool(std::string_view text);
/// Splits on ASCII whitespace (spaces, tabs, newlines), dropping empty parts.
std::vector<std::string> split_words(std::string_view text);

} // namespace kinto
