// Settings of a kintod instance: reads upstream kinto.ini files the way
// Python's configparser (strict mode, basic interpolation) does, and layers
// the environment and command-line overrides on top, decodes values as
// upstream does, and checks them as they are read.
#include "base/settings.hpp"

#include "base/json.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>
#include <sstream>
#include <utility>

namespace kinto {
namespace {

constexpr std::string_view kinto_prefix = "kinto.";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

/// Lower-cased name without its `kinto.` prefix: the key settings are stored under.
std::string canonical_name(std::string_view name) {
  std::string out = lower(name);
  if (out.starts_with(kinto_prefix)) {
    out.erase(0, kinto_prefix.size());
  }
  return out;
}

/// `paginate_by` -> `PAGINATE_BY`, as upstream's read_env() builds it.
std::string env_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '.' || c == '-') {
      c = '_';
    } else if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return out;
}

std::optional<std::string> env_value(const std::string& variable) {
  if (const char* v = std::getenv(variable.c_str())) {
    return std::string(v);
  }
  return std::nullopt;
}

std::string line_error(int line, std::string_view message) {
  return "line " + std::to_string(line) + ": " + std::string(message);
}

struct ini_entry {
  std::string key;
  std::string value;
  int line = 0;
};

struct ini_section {
  std::string name;
  std::vector<ini_entry> entries;
};

/// Splits the text into sections and entries (configparser's _read), values
/// not yet interpolated. Returns false with `error` set on a malformed line.
bool parse_sections(std::string_view text, std::vector<ini_section>& sections, std::string& error) {
  std::set<std::string, std::less<>> section_names;
  std::set<std::string, std::less<>> keys_in_section;
  ini_section* current = nullptr;
  ini_entry* option = nullptr;
  std::size_t option_indent = 0;
  std::size_t pending_blanks = 0;
  int lineno = 0;

  for (std::size_t pos = 0; pos <= text.size();) {
    const std::size_t eol = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }

    const std::string_view content = trim(line);
    if (content.empty()) {
      // configparser keeps blank lines inside a value; they only show if a
      // continuation line follows (trailing ones are stripped at the end).
      if (option != nullptr) {
        ++pending_blanks;
      }
      continue;
    }
    if (content.front() == '#' || content.front() == ';') {
      continue;
    }

    std::size_t indent = 0;
    while (is_space(line[indent])) {
      ++indent;
    }
    if (option != nullptr && indent > option_indent) {
      option->value.append(pending_blanks + 1, '\n');
      option->value.append(content);
      pending_blanks = 0;
      continue;
    }
    pending_blanks = 0;
    option = nullptr;

    if (content.front() == '[') {
      if (content.size() < 3 || content.back() != ']') {
        error = line_error(lineno, "malformed section header");
        return false;
      }
      std::string name(content.substr(1, content.size() - 2));
      if (!section_names.insert(name).second) {
        error = line_error(lineno, "duplicate section [" + name + "]");
        return false;
      }
      sections.push_back(ini_section{std::move(name), {}});
      current = &sections.back();
      keys_in_section.clear();
      continue;
    }
    if (current == nullptr) {
      error = line_error(lineno, "setting outside of any [section]");
      return false;
    }
    const std::size_t delimiter = content.find_first_of("=:");
    if (delimiter == std::string_view::npos) {
      error = line_error(lineno, "expected 'key = value'");
      return false;
    }
    std::string key = lower(trim(content.substr(0, delimiter)));
    if (key.empty()) {
      error = line_error(lineno, "empty key");
      return false;
    }
    if (!keys_in_section.insert(key).second) {
      error = line_error(lineno, "duplicate key '" + key + "' in [" + current->name + "]");
      return false;
    }
    current->entries.push_back(ini_entry{std::move(key), std::string(trim(content.substr(delimiter + 1))), lineno});
    option = &current->entries.back();
    option_indent = indent;
  }
  return true;
}

/// Names `%(name)s` may use: the ini directory and file as paste deploy
/// gives them, `http_port` as `kinto start` gives it, and `[DEFAULT]` keys.
struct interpolation_names {
  std::string here, file;
  std::map<std::string, std::string, std::less<>> defaults{{"http_port", "8888"}};
};

/// configparser's basic interpolation: `%(name)s` is replaced by that name's
/// value (itself interpolated, up to configparser's depth of 10), `%%` is a
/// literal '%'; any other '%' use is an error.
std::optional<std::string> interpolate(std::string_view value, const interpolation_names& names, std::string& why,
                                       int depth = 0) {
  if (depth > 10) {
    why = "interpolation nested too deeply";
    return std::nullopt;
  }
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out += value[i];
      continue;
    }
    const std::string_view rest = value.substr(i + 1);
    if (rest.starts_with('%')) {
      out += '%';
      ++i;
      continue;
    }
    const std::size_t close = rest.find(")s");
    if (!rest.starts_with('(') || close == std::string_view::npos || close < 2) {
      why = "'%' must be followed by '%' or '(name)s'";
      return std::nullopt;
    }
    const std::string name = lower(rest.substr(1, close - 1));
    if (name == "here") {
      out += names.here;
    } else if (name == "__file__") {
      out += names.file;
    } else if (const auto it = names.defaults.find(name); it != names.defaults.end()) {
      std::optional<std::string> expanded = interpolate(it->second, names, why, depth + 1);
      if (!expanded) {
        return std::nullopt;
      }
      out += *expanded;
    } else {
      why = "unknown interpolation %(" + name + ")s";
      return std::nullopt;
    }
    i += close + 2;
  }
  return out;
}

} // namespace

std::optional<settings> settings::from_ini(std::string_view text, std::string_view ini_dir, std::string& error) {
  std::vector<ini_section> sections;
  if (!parse_sections(text, sections, error)) {
    return std::nullopt;
  }

  interpolation_names names;
  names.here = std::string(ini_dir);
  names.file = names.here + "/kinto.ini";
  for (const ini_section& section : sections) {
    if (section.name == "DEFAULT") {
      for (const ini_entry& entry : section.entries) {
        names.defaults[entry.key] = entry.value;
      }
    }
  }

  settings result;
  // Which ini key (and line) gave each stored setting, to report conflicts.
  std::map<std::string, std::pair<std::string, int>, std::less<>> origin;
  for (ini_section& section : sections) {
    const bool app = section.name == "app:main";
    const bool server = section.name == "server:main";
    if (!app && !server) {
      continue;
    }
    for (ini_entry& entry : section.entries) {
      std::string why;
      std::optional<std::string> value = interpolate(entry.value, names, why);
      if (!value) {
        error = line_error(entry.line, why);
        return std::nullopt;
      }
      std::string name;
      if (app) {
        if (entry.key == "use") {
          continue; // paste deploy's entry point (`egg:kinto`), not a setting
        }
        name = canonical_name(entry.key);
      } else if (entry.key == "host" || entry.key == "port") {
        name = "server." + entry.key;
      } else {
        continue;
      }
      const auto [it, inserted] = origin.try_emplace(name, entry.key, entry.line);
      if (!inserted && result.values_[name] != *value) {
        error = line_error(entry.line, "setting '" + entry.key + "' conflicts with '" + it->second.first +
                                           "' (line " + std::to_string(it->second.second) + ")");
        return std::nullopt;
      }
      result.values_[name] = std::move(*value);
    }
  }
  return result;
}

void settings::set(std::string_view name, std::string value) { values_[canonical_name(name)] = std::move(value); }

void settings::set_override(std::string_view name, std::string value) {
  std::string key = canonical_name(name);
  values_[key] = value;
  overrides_[std::move(key)] = std::move(value);
}

std::optional<std::string> settings::get(std::string_view name) const {
  const std::string key = canonical_name(name);
  if (const auto it = overrides_.find(key); it != overrides_.end()) {
    return it->second;
  }
  const std::string variable = env_name(key);
  if (auto v = env_value("KINTO_" + variable)) {
    return native_value(*v);
  }
  if (auto v = env_value(variable)) {
    return native_value(*v);
  }
  if (const auto it = values_.find(key); it != values_.end()) {
    return native_value(it->second);
  }
  return std::nullopt;
}

std::string settings::origin(std::string_view name) const {
  const std::string key = canonical_name(name);
  if (overrides_.contains(key)) {
    return {};
  }
  const std::string variable = env_name(key);
  for (const std::string& candidate : {"KINTO_" + variable, variable}) {
    if (env_value(candidate)) {
      return "environment variable " + candidate;
    }
  }
  return {};
}

namespace {

/// A setting's value as messages show it: never a secret, nor the password
/// of a URL (postgresql://user:pass@host/db).
std::string shown(std::string_view name, const std::optional<std::string>& v) {
  if (!v) return "unset";
  if (name.find("secret") != std::string_view::npos || name.find("password") != std::string_view::npos)
    return "(not shown)";
  std::string text = *v;
  if (const auto scheme = text.find("://"); scheme != std::string::npos) {
    const auto at = text.find('@', scheme + 3);
    const auto colon = text.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at)
      text.replace(colon + 1, at - colon - 1, "***");
  }
  return "'" + text + "'";
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  text = trim(text);
  // from_chars takes '-' but not '+'; a lone sign must stay an error.
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') {
    text.remove_prefix(1);
  }
  std::int64_t parsed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return parsed;
}

} // namespace

std::optional<std::string> setting_reader::value(std::string_view name) {
  read_.insert(canonical_name(name));
  return s_.get(name);
}

std::string setting_reader::text(std::string_view name, std::string_view fallback) {
  std::optional<std::string> v = value(name);
  return v ? std::move(*v) : std::string(fallback);
}

bool setting_reader::flag(std::string_view name, bool fallback) {
  const std::optional<std::string> v = value(name);
  if (!v || trim(*v).empty()) {
    return fallback;
  }
  if (const std::optional<bool> parsed = parse_bool(*v)) {
    return *parsed;
  }
  reject(name, "not a boolean (true/false, yes/no, on/off, 1/0)");
  return fallback;
}

std::int64_t setting_reader::integer(std::string_view name, std::int64_t fallback, std::int64_t min,
                                     std::int64_t max) {
  return optional_integer(name, min, max).value_or(fallback);
}

std::optional<std::int64_t> setting_reader::optional_integer(std::string_view name, std::int64_t min,
                                                             std::int64_t max) {
  const std::optional<std::string> v = value(name);
  if (!v || trim(*v).empty()) {
    return std::nullopt;
  }
  const std::optional<std::int64_t> parsed = parse_int(*v);
  if (!parsed || *parsed < min || *parsed > max) {
    reject(name, "not an integer from " + std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  }
  return parsed;
}

std::optional<double> setting_reader::optional_number(std::string_view name, double min, double max) {
  const std::optional<std::string> v = value(name);
  if (!v || trim(*v).empty()) {
    return std::nullopt;
  }
  const std::string_view text = trim(*v);
  double parsed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc{} || end != text.data() + text.size() || !(parsed >= min && parsed <= max)) {
    std::ostringstream range;
    range << "not a number from " << min << " to " << max;
    reject(name, range.str());
    return std::nullopt;
  }
  return parsed;
}

std::vector<std::string> setting_reader::words(std::string_view name) {
  const std::optional<std::string> v = value(name);
  return v ? split_words(*v) : std::vector<std::string>{};
}

void setting_reader::reject(std::string_view name, std::string_view why) {
  std::string message = "setting " + canonical_name(name) + " = " + shown(name, s_.get(name));
  if (const std::string from = s_.origin(name); !from.empty()) {
    message += " (" + from + ")";
  }
  message += ": ";
  message += why;
  problems_.push_back(std::move(message));
}

std::vector<std::string> setting_reader::unread() const {
  std::vector<std::string> names;
  for (const auto& [name, value] : s_.stored()) {
    if (!read_.contains(name)) {
      names.push_back(name);
    }
  }
  return names;
}

std::string native_value(std::string_view raw) {
  const std::string_view text = trim(raw);
  // Only what could be JSON is parsed: most values (words, paths, lists) are not.
  if (text.empty() || std::string_view("\"-0123456789tfn[{").find(text.front()) == std::string_view::npos) {
    return std::string(raw);
  }
  std::string error;
  const std::optional<json::value> parsed = json::parse(text, error, 16);
  if (!parsed) {
    return std::string(raw);
  }
  const auto scalar = [](const json::value& v) -> std::string {
    switch (v.kind()) {
      case json::type::null: return {};
      case json::type::boolean: return v.as_bool() ? "true" : "false";
      case json::type::number:
      case json::type::string: return v.as_string();
      default: return json::serialize(v);
    }
  };
  if (parsed->is_array()) {
    std::string lines;
    for (const json::value& item : parsed->as_array()) {
      if (!lines.empty()) {
        lines += '\n';
      }
      lines += scalar(item);
    }
    return lines;
  }
  if (parsed->is_object()) {
    return std::string(raw);
  }
  return scalar(*parsed);
}

std::optional<bool> parse_bool(std::string_view text) {
  const std::string word = lower(trim(text));
  if (word == "true" || word == "t" || word == "yes" || word == "y" || word == "on" || word == "1") {
    return true;
  }
  if (word == "false" || word == "f" || word == "no" || word == "n" || word == "off" || word == "0") {
    return false;
  }
  return std::nullopt;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) {
      ++i;
    }
    const std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) {
      ++i;
    }
    if (i > start) {
      words.emplace_back(text.substr(start, i - start));
    }
  }
  return words;
}

} // namespace kinto
