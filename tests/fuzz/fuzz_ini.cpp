// libFuzzer target: kinto.ini parsing (kinto::settings::from_ini) and the
// resolution of settings into the application's config (http::load_config),
// which reads every typed setting: booleans, integers, lists, principals,
// policies and plugins. Besides crashes it checks that the settings of a
// parsed file, written back as a plain [app:main] section, parse to the same
// settings.
#include "fuzz_support.hpp"
#include "http/app.hpp"
#include "base/settings.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using namespace kinto;
using kinto::fuzz::require;

/// `value` with '%' doubled, as interpolation expects of a literal percent.
std::string escape_percent(std::string_view value) {
  std::string out;
  for (char c : value) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

/// Writes single-line settings back as an ini file and parses it again.
/// Names are written with the `kinto.` prefix, which parsing strips: a name
/// may itself start with `kinto.` or `[` (from `kinto.kinto.x` or
/// `kinto.[x`), which written bare would mean something else. Multi-line
/// values (continuation lines) do not survive this plain form and are skipped.
void check_rewrite(const settings& s) {
  std::string text = "[app:main]\n";
  for (const auto& [name, value] : s.stored()) {
    if (value.find('\n') != std::string::npos) return;
    text += "kinto." + name + " = " + escape_percent(value) + "\n";
  }
  std::string error;
  auto again = settings::from_ini(text, "/etc/kinto", error);
  require(again.has_value(), "settings written back parse");
  require(again->stored() == s.stored(), "settings written back are the same settings");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto parsed = settings::from_ini(input, "/etc/kinto", error);
  if (!parsed) {
    require(!error.empty(), "a malformed file is reported");
    return 0;
  }
  kinto::setting_reader reader(*parsed);
  for (const auto& [name, value] : parsed->stored()) {
    (void)reader.flag(name, false);
    (void)reader.integer(name, 0, INT64_MIN, INT64_MAX);
    (void)reader.words(name);
  }
  check_rewrite(*parsed);
  kinto::setting_reader config_reader(*parsed);
  http::config cfg;
  (void)http::load_config(config_reader, cfg);
  return 0;
}
