// Turning valijson's errors into Python-jsonschema-style wording and field
// paths: Python repr(), locating the subschemas at an instance path, wording.
// Depends on base/json*.hpp, the adapter's regex helpers and valijson's error
// list; compiles and validates nothing.
#include "base/json_schema_messages.hpp"
#include "base/json_schema_adapter.hpp"
#include "base/json_schema_walk.hpp"

#include <valijson/validation_results.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

namespace kinto::json_schema {
namespace {

// ---------------------------------------------------------------------------
// Python's repr(), which jsonschema puts in its messages.

void repr_to(const json::value& v, std::string& out);

void repr_string(std::string_view s, std::string& out) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out += quote;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == quote || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch; // Python 3 shows printable non-ASCII text as is
    }
  }
  out += quote;
}

/// repr(float): shortest round-trip digits, fixed notation for decimal
/// exponents in [-4, 16), scientific otherwise ("1e+16", "1.5e-05").
void repr_float(double d, std::string& out) {
  if (std::isnan(d)) {
    out += "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-inf" : "inf";
    return;
  }
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  const std::size_t e = sci.find('e');
  const int exponent = std::atoi(std::string(sci.substr(e + 1)).c_str());
  if (exponent < -4 || exponent >= 16) {
    out += sci;
    return;
  }
  std::string_view mantissa = sci.substr(0, e);
  if (mantissa.front() == '-') {
    out += '-';
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (const char c : mantissa)
    if (c != '.') digits += c;
  if (exponent >= 0) {
    const auto int_len = static_cast<std::size_t>(exponent) + 1;
    if (digits.size() <= int_len) {
      out += digits;
      out.append(int_len - digits.size(), '0');
      out += ".0";
    } else {
      out.append(digits, 0, int_len);
      out += '.';
      out.append(digits, int_len);
    }
  } else {
    out += "0.";
    out.append(static_cast<std::size_t>(-exponent - 1), '0');
    out += digits;
  }
}

void repr_to(const json::value& v, std::string& out) {
  switch (v.kind()) {
  case json::type::null:
    out += "None";
    break;
  case json::type::boolean:
    out += v.as_bool() ? "True" : "False";
    break;
  case json::type::number:
    // Python's json module reads integer literals as int, others as float.
    if (v.is_integer())
      out += v.as_string() == "-0" ? "0" : v.as_string();
    else
      repr_float(v.as_double(), out);
    break;
  case json::type::string:
    repr_string(v.as_string(), out);
    break;
  case json::type::array: {
    out += '[';
    bool first = true;
    for (const json::value& item : v.as_array()) {
      if (!first) out += ", ";
      first = false;
      repr_to(item, out);
    }
    out += ']';
    break;
  }
  case json::type::object: {
    out += '{';
    bool first = true;
    for (const json::member& m : v.as_object()) {
      if (!first) out += ", ";
      first = false;
      repr_string(m.key, out);
      out += ": ";
      repr_to(m.val, out);
    }
    out += '}';
    break;
  }
  }
}

std::string repr(const json::value& v) {
  std::string out;
  repr_to(v, out);
  return out;
}
} // namespace

std::string repr_str(std::string_view s) {
  std::string out;
  repr_string(s, out);
  return out;
}

namespace {

/// Python repr of a number valijson printed with std::to_string.
std::string repr_number_text(std::string_view text) {
  const double d = std::strtod(std::string(text).c_str(), nullptr);
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  std::string out;
  repr_float(d, out);
  return out;
}
// ---------------------------------------------------------------------------
// Finding the subschemas that apply at an instance path, to word errors with
// the keyword values valijson's messages leave out.

using schema_list = std::vector<const json::value*>;

/// Adds `s` and what applies in place with it ($ref, allOf/anyOf/oneOf,
/// then/else, dependencies), depth first in document order, each schema once.
void add_in_place(const json::value& root, const json::value* s, schema_list& out,
                  std::unordered_set<const json::value*>& seen) {
  constexpr std::size_t limit = 1000;
  std::vector<const json::value*> stack{s};
  while (!stack.empty() && out.size() < limit) {
    const json::value* cur = stack.back();
    stack.pop_back();
    if (!cur || !seen.insert(cur).second) continue;
    out.push_back(cur);
    if (!cur->is_object()) continue;
    if (const json::value* ref = cur->find("$ref"); ref && ref->is_string()) {
      stack.push_back(resolve_ref(root, ref->as_string()));
      continue;
    }
    schema_list children;
    for (const json::member& m : cur->as_object()) {
      if (one_of(m.key, {"allOf", "anyOf", "oneOf"}) && m.val.is_array())
        for (const json::value& item : m.val.as_array()) children.push_back(&item);
      if (one_of(m.key, {"then", "else"})) children.push_back(&m.val);
      if (m.key == "dependencies" && m.val.is_object())
        for (const json::member& d : m.val.as_object())
          if (!d.val.is_array()) children.push_back(&d.val);
    }
    stack.insert(stack.end(), children.rbegin(), children.rend());
  }
}

bool regex_finds(const std::string& pattern, const std::string& text) {
  try {
    return regex_matches(make_regex(pattern), text);
  } catch (const std::exception&) {
    return false;
  }
}

/// The subschemas of `s` applying to member `key` of an object.
void member_schemas(const json::value& s, const std::string& key, schema_list& out) {
  bool matched = false;
  if (const json::value* props = s.find("properties"); props && props->is_object())
    if (const json::value* sub = props->find(key)) {
      out.push_back(sub);
      matched = true;
    }
  if (const json::value* pp = s.find("patternProperties"); pp && pp->is_object())
    for (const json::member& m : pp->as_object())
      if (regex_finds(m.key, key)) {
        out.push_back(&m.val);
        matched = true;
      }
  if (const json::value* ap = s.find("additionalProperties"); ap && !matched) out.push_back(ap);
}

/// The subschemas of `s` applying to item `index` of an array.
void item_schemas(const json::value& s, std::size_t index, schema_list& out) {
  const json::value* items = s.find("items");
  if (!items) return;
  if (!items->is_array()) {
    out.push_back(items);
  } else if (index < items->as_array().size()) {
    out.push_back(&items->as_array()[index]);
  } else if (const json::value* more = s.find("additionalItems")) {
    out.push_back(more);
  }
}

/// The value at `path` in `instance` (null if absent) and the schemas that
/// apply to it.
std::pair<const json::value*, schema_list> locate(const json::value& root, const json::value& instance,
                                                  const std::vector<std::string>& path) {
  schema_list current;
  std::unordered_set<const json::value*> seen;
  add_in_place(root, &root, current, seen);
  const json::value* value = &instance;
  for (const std::string& segment : path) {
    schema_list next;
    const json::value* child = nullptr;
    if (value->is_object()) {
      child = value->find(segment);
      for (const json::value* s : current)
        if (s->is_object()) member_schemas(*s, segment, next);
    } else if (value->is_array()) {
      std::size_t index = 0;
      const auto [p, ec] = std::from_chars(segment.data(), segment.data() + segment.size(), index);
      if (ec == std::errc{} && p == segment.data() + segment.size() && index < value->as_array().size()) {
        child = &value->as_array()[index];
        for (const json::value* s : current)
          if (s->is_object()) item_schemas(*s, index, next);
      }
    }
    if (!child) return {nullptr, {}};
    value = child;
    current.clear();
    seen.clear();
    for (const json::value* s : next) add_in_place(root, s, current, seen);
  }
  return {value, std::move(current)};
}

/// The first `key` among `schemas` whose value satisfies `pred`.
template <typename Pred>
const json::value* find_keyword(const schema_list& schemas, std::string_view key, Pred&& pred) {
  for (const json::value* s : schemas)
    if (const json::value* v = s->is_object() ? s->find(key) : nullptr; v && pred(*v, *s)) return v;
  return nullptr;
}

bool has_type(const json::value& v, std::string_view type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_bool();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return is_integral(v);
  return false;
}

bool type_accepts(const json::value& types, const json::value& v) {
  if (types.is_string()) return has_type(v, types.as_string());
  if (!types.is_array()) return true;
  return std::any_of(types.as_array().begin(), types.as_array().end(),
                     [&](const json::value& t) { return t.is_string() && has_type(v, t.as_string()); });
}

// ---------------------------------------------------------------------------
// Turning valijson's error list into jsonschema's first error.

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

/// The text between `prefix` and the last quote of a message.
std::string quoted_after(std::string_view text, std::string_view prefix) {
  std::string_view rest = text.substr(std::min(prefix.size(), text.size()));
  const std::size_t end = rest.rfind('\'');
  return std::string(rest.substr(0, end == std::string_view::npos ? rest.size() : end));
}

/// Messages valijson adds above an error it already reported.
bool is_wrapper(std::string_view text) {
  for (std::string_view prefix :
       {"Failed to validate against child schema #", "Failed to validate against a conditional schema",
        "Failed to validate item #", "Failed to validate against schema associated with",
        "Failed to validate against additional properties schema", "Failed to validate against dependent schema"})
    if (starts_with(text, prefix)) return true;
  return false;
}

/// anyOf/oneOf summaries: valijson lists the errors of every alternative
/// before them, jsonschema reports only the summary.
bool is_alternatives_summary(std::string_view text) {
  return starts_with(text, "Failed to validate against any schemas allowed by anyOf") ||
         starts_with(text, "Failed to validate against any child schemas allowed by oneOf");
}

struct wording {
  std::string description;
  std::string keyword;
  const json::value* keyword_value = nullptr;
};

std::string join_reprs(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

wording word_additional_properties(std::string_view text, const json::value& target, const schema_list& schemas) {
  for (const json::value* s : schemas) {
    const json::value* ap = s->is_object() ? s->find("additionalProperties") : nullptr;
    if (!ap || !ap->is_bool() || ap->as_bool() || !target.is_object()) continue;
    const json::value* props = s->find("properties");
    const json::value* patterns = s->find("patternProperties");
    std::vector<std::string> extras;
    for (const json::member& m : target.as_object()) {
      if (props && props->is_object() && props->find(m.key)) continue;
      if (patterns && patterns->is_object() &&
          std::any_of(patterns->as_object().begin(), patterns->as_object().end(),
                      [&](const json::member& p) { return regex_finds(p.key, m.key); }))
        continue;
      extras.push_back(m.key);
    }
    if (extras.empty()) continue;
    std::vector<std::string> reprs;
    if (patterns && patterns->is_object()) {
      std::sort(extras.begin(), extras.end());
      for (const std::string& e : extras) reprs.push_back(repr_str(e));
      std::vector<std::string> names;
      for (const json::member& p : patterns->as_object()) names.push_back(p.key);
      std::sort(names.begin(), names.end());
      std::vector<std::string> pattern_reprs;
      for (const std::string& n : names) pattern_reprs.push_back(repr_str(n));
      return {join_reprs(reprs) + (extras.size() == 1 ? " does" : " do") +
                  " not match any of the regexes: " + join_reprs(pattern_reprs),
              "additionalProperties", ap};
    }
    for (const std::string& e : extras) reprs.push_back(repr_str(e));
    return {"Additional properties are not allowed (" + join_reprs(reprs) + (extras.size() == 1 ? " was" : " were") +
                " unexpected)",
            "additionalProperties", ap};
  }
  const std::string extra = quoted_after(text, "Object contains a property that could not be validated using "
                                               "'properties' or 'additionalProperties' constraints: '");
  return {"Additional properties are not allowed (" + repr_str(extra) + " was unexpected)", "additionalProperties",
          nullptr};
}

wording word_additional_items(const json::value& target, const schema_list& schemas) {
  const json::value* items = find_keyword(schemas, "items", [&](const json::value& v, const json::value& s) {
    const json::value* more = s.find("additionalItems");
    return v.is_array() && more && more->is_bool() && !more->as_bool() && target.is_array() &&
           target.as_array().size() > v.as_array().size();
  });
  if (!items) return {repr(target) + " has more items than the schema allows", "additionalItems", nullptr};
  std::vector<std::string> extras;
  for (std::size_t i = items->as_array().size(); i < target.as_array().size(); ++i)
    extras.push_back(repr(target.as_array()[i]));
  return {"Additional items are not allowed (" + join_reprs(extras) + (extras.size() == 1 ? " was" : " were") +
              " unexpected)",
          "additionalItems", nullptr};
}

wording word_bound(std::string_view text, std::string_view prefix, const json::value& target,
                   const schema_list& schemas) {
  struct bound {
    std::string_view prefix, keyword, phrase;
    bool (*violated)(double value, double limit);
  };
  static constexpr bound bounds[] = {
      {"Expected number greater than or equal to ", "minimum", "is less than the minimum of",
       [](double v, double l) { return v < l; }},
      {"Expected number greater than ", "exclusiveMinimum", "is less than or equal to the minimum of",
       [](double v, double l) { return v <= l; }},
      {"Expected number less than or equal to ", "maximum", "is greater than the maximum of",
       [](double v, double l) { return v > l; }},
      {"Expected number less than ", "exclusiveMaximum", "is greater than or equal to the maximum of",
       [](double v, double l) { return v >= l; }},
  };
  for (const bound& b : bounds) {
    if (b.prefix != prefix) continue;
    const json::value* limit = find_keyword(schemas, b.keyword, [&](const json::value& v, const json::value&) {
      return v.is_number() && b.violated(target.as_double(), v.as_double());
    });
    const std::string shown = limit ? repr(*limit) : repr_number_text(text.substr(prefix.size()));
    return {repr(target) + " " + std::string(b.phrase) + " " + shown, std::string(b.keyword), limit};
  }
  return {std::string(text), "", nullptr};
}

/// jsonschema's message for the valijson error `text` about `target`.
wording word(std::string_view text, const json::value& target, const schema_list& schemas) {
  const std::string r = repr(target);
  if (starts_with(text, "Missing required property '")) {
    const std::string missing = quoted_after(text, "Missing required property '");
    const json::value* required = find_keyword(schemas, "required", [&](const json::value& v, const json::value&) {
      return v.is_array() && std::any_of(v.as_array().begin(), v.as_array().end(), [&](const json::value& n) {
               return n.is_string() && n.as_string() == missing;
             });
    });
    std::string first = missing; // jsonschema reports in the order of the `required` array
    if (required && target.is_object())
      for (const json::value& n : required->as_array())
        if (n.is_string() && !target.find(n.as_string())) {
          first = n.as_string();
          break;
        }
    return {repr_str(first) + " is a required property", "required", required};
  }
  if (starts_with(text, "Value type not permitted by 'type' constraint")) {
    const json::value* types = find_keyword(
        schemas, "type", [&](const json::value& v, const json::value&) { return !type_accepts(v, target); });
    if (!types) return {r + " is not of an allowed type", "type", nullptr};
    std::string shown;
    if (types->is_string()) {
      shown = repr_str(types->as_string());
    } else {
      std::vector<std::string> names;
      for (const json::value& t : types->as_array()) names.push_back(repr(t));
      shown = join_reprs(names);
    }
    return {r + " is not of type " + shown, "type", types};
  }
  for (std::string_view prefix : {"Expected number greater than or equal to ", "Expected number greater than ",
                                  "Expected number less than or equal to ", "Expected number less than "})
    if (starts_with(text, prefix)) return word_bound(text, prefix, target, schemas);
  if (starts_with(text, "Failed to match against any enum values")) {
    const json::value* values = find_keyword(schemas, "enum", [&](const json::value& v, const json::value&) {
      return v.is_array() &&
             std::none_of(v.as_array().begin(), v.as_array().end(), [&](const json::value& e) { return e == target; });
    });
    if (!values) return {r + " is not one of the allowed values", "enum", nullptr};
    return {r + " is not one of " + repr(*values), "enum", values};
  }
  if (starts_with(text, "Failed to match expected value set by 'const'")) {
    const json::value* expected =
        find_keyword(schemas, "const", [&](const json::value& v, const json::value&) { return v != target; });
    if (!expected) return {r + " is not the expected value", "const", nullptr};
    return {repr(*expected) + " was expected", "const", expected};
  }
  if (starts_with(text, "Failed to match regex specified by 'pattern'")) {
    const json::value* pattern = find_keyword(schemas, "pattern", [&](const json::value& v, const json::value&) {
      return v.is_string() && target.is_string() && !regex_finds(v.as_string(), target.as_string());
    });
    if (!pattern) return {r + " does not match the required pattern", "pattern", nullptr};
    return {r + " does not match " + repr(*pattern), "pattern", pattern};
  }
  if (starts_with(text, "String should be no fewer than")) return {r + " is too short", "minLength", nullptr};
  if (starts_with(text, "String should be no more than")) return {r + " is too long", "maxLength", nullptr};
  if (starts_with(text, "Array should contain no fewer than")) return {r + " is too short", "minItems", nullptr};
  if (starts_with(text, "Array should contain no more than")) return {r + " is too long", "maxItems", nullptr};
  if (starts_with(text, "Object should have no fewer than"))
    return {r + " does not have enough properties", "minProperties", nullptr};
  if (starts_with(text, "Object should have no more than"))
    return {r + " has too many properties", "maxProperties", nullptr};
  if (starts_with(text, "Elements at indexes #")) return {r + " has non-unique elements", "uniqueItems", nullptr};
  if (starts_with(text, "Value should be a multiple of ") || starts_with(text, "Value could not be converted")) {
    const json::value* divisor = find_keyword(schemas, "multipleOf", [&](const json::value& v, const json::value&) {
      if (!v.is_number() || v.as_double() == 0) return false;
      const double q = target.as_double() / v.as_double();
      return !std::isfinite(q) || std::floor(q) != q;
    });
    if (!divisor) return {r + " is not a multiple of the required divisor", "multipleOf", nullptr};
    return {r + " is not a multiple of " + repr(*divisor), "multipleOf", divisor};
  }
  if (starts_with(text, "Object contains a property that could not be validated"))
    return word_additional_properties(text, target, schemas);
  if (starts_with(text, "Array contains more items than allowed") || starts_with(text, "Cannot validate item #"))
    return word_additional_items(target, schemas);
  if (starts_with(text, "Failed to validate against any schemas allowed by anyOf"))
    return {r + " is not valid under any of the given schemas", "anyOf", nullptr};
  if (starts_with(text, "Failed to validate against any child schemas allowed by oneOf"))
    return {r + " is not valid under any of the given schemas", "oneOf", nullptr};
  if (starts_with(text, "Failed to validate against exactly one child schema"))
    return {r + " is valid under more than one of the given schemas", "oneOf", nullptr};
  if (starts_with(text, "Target should not validate against schema specified in 'not'")) {
    const json::value* negated =
        find_keyword(schemas, "not", [](const json::value&, const json::value&) { return true; });
    if (!negated) return {r + " should not be valid under the given schema", "not", nullptr};
    return {r + " should not be valid under " + repr(*negated), "not", negated};
  }
  if (starts_with(text, "Failed to any values against subschema in 'contains'"))
    return {r + " does not contain items matching the given schema", "contains", nullptr};
  if (starts_with(text, "Missing dependency '")) {
    const std::string needed = quoted_after(text, "Missing dependency '");
    for (const json::value* s : schemas) {
      const json::value* deps = s->is_object() ? s->find("dependencies") : nullptr;
      if (!deps || !deps->is_object() || !target.is_object()) continue;
      for (const json::member& d : deps->as_object()) {
        if (!d.val.is_array() || !target.find(d.key)) continue;
        for (const json::value& n : d.val.as_array())
          if (n.is_string() && n.as_string() == needed)
            return {repr_str(needed) + " is a dependency of " + repr_str(d.key), "dependencies", nullptr};
      }
    }
    return {repr_str(needed) + " is a dependency of another property", "dependencies", nullptr};
  }
  return {std::string(text), "", nullptr};
}

/// Instance path segment named by a wrapper message, if any.
std::optional<std::string> wrapper_child(std::string_view text) {
  constexpr std::string_view property = "Failed to validate against schema associated with property name '";
  if (starts_with(text, property)) return quoted_after(text, property);
  constexpr std::string_view item = "Failed to validate item #";
  if (starts_with(text, item) && text.find("corresponding item schema") == std::string_view::npos) {
    const std::string_view rest = text.substr(item.size());
    return std::string(rest.substr(0, rest.find(' ')));
  }
  return std::nullopt;
}

std::vector<std::string> path_of(const std::vector<std::string>& context) {
  std::vector<std::string> path;
  for (std::size_t i = 1; i < context.size(); ++i) {
    const std::string& c = context[i];
    path.push_back(c.size() >= 2 && c.front() == '[' && c.back() == ']' ? c.substr(1, c.size() - 2) : c);
  }
  return path;
}

bool is_prefix(const std::vector<std::string>& prefix, const std::vector<std::string>& of) {
  return prefix.size() <= of.size() && std::equal(prefix.begin(), prefix.end(), of.begin());
}

std::string last_character(const std::string& s) {
  std::size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  return s.substr(start);
}
} // namespace

failure describe(const valijson::ValidationResults& results, const json::value& schema, const json::value& instance) {
  std::vector<const valijson::ValidationResults::Error*> errors;
  for (const auto& e : results) errors.push_back(&e);

  // The first error that is not a mere summary; but an error inside an
  // anyOf/oneOf alternative is only a symptom: report the outermost
  // alternatives summary whose path encloses it.
  std::optional<std::size_t> chosen;
  for (std::size_t i = 0; i < errors.size() && !chosen; ++i)
    if (!is_wrapper(errors[i]->description)) chosen = i;
  if (chosen) {
    for (std::size_t j = *chosen + 1; j < errors.size(); ++j)
      if (is_alternatives_summary(errors[j]->description) && is_prefix(errors[j]->context, errors[*chosen]->context))
        chosen = j;
  }

  std::vector<std::string> path;
  std::string text;
  if (chosen) {
    path = path_of(errors[*chosen]->context);
    text = errors[*chosen]->description;
  } else if (!errors.empty()) {
    // Only summaries: the failing subschema reported nothing itself (a
    // `false` schema, propertyNames).
    path = path_of(errors.front()->context);
    if (auto child = wrapper_child(errors.front()->description)) path.push_back(*child);
  }

  auto [target, schemas] = locate(schema, instance, path);
  if (!target) {
    target = &instance;
    path.clear();
    std::tie(target, schemas) = locate(schema, instance, path);
  }

  wording w;
  if (chosen) {
    w = word(text, *target, schemas);
  } else if (std::any_of(schemas.begin(), schemas.end(),
                         [](const json::value* s) { return s->is_bool() && !s->as_bool(); })) {
    w = {"False schema does not allow " + repr(*target), "", nullptr};
  } else {
    w = {repr(*target) + " is not valid under the given schema", "", nullptr};
  }

  failure f;
  for (const std::string& segment : path) {
    if (!f.field.empty()) f.field += '.';
    f.field += segment;
  }
  f.description = std::move(w.description);
  // As upstream: the last path element, else the last element of the
  // keyword's value (a Python string's is its last character), else the
  // keyword.
  if (!path.empty()) {
    f.name = path.back();
  } else if (w.keyword_value && w.keyword_value->is_array() && !w.keyword_value->as_array().empty() &&
             w.keyword_value->as_array().back().is_string()) {
    f.name = w.keyword_value->as_array().back().as_string();
  } else if (w.keyword_value && w.keyword_value->is_string() && !w.keyword_value->as_string().empty()) {
    f.name = last_character(w.keyword_value->as_string());
  } else {
    f.name = w.keyword;
  }
  return f;
}

} // namespace kinto::json_schema
