// JSON Schema draft-07 over kintod's JSON model: a valijson adapter reading
// json::value in place, schema checking and compilation, and jsonschema-style
// error wording. Depends on schema/json*.hpp, valijson and Boost.Regex only.

// Without this valijson reports a malformed schema by calling abort().
#define VALIJSON_USE_EXCEPTIONS 1

#include "schema/json_schema.hpp"
#include "schema/json_patch.hpp"

#include <valijson/internal/adapter.hpp>
#include <valijson/internal/basic_adapter.hpp>
#include <valijson/internal/frozen_value.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <boost/regex.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace kinto::json_schema {

// ---------------------------------------------------------------------------
// valijson adapter: read-only views over json::value, no copies.

namespace {

class node;
class array_iterator;
class member_iterator;
using node_member = std::pair<std::string, node>;

const json::value& empty_object_value() {
  static const json::value v = json::value::object();
  return v;
}
const json::array_t& empty_array() {
  static const json::array_t a;
  return a;
}
const json::object_t& empty_object() {
  static const json::object_t o;
  return o;
}

/// jsonschema counts any number without a fractional part as an integer
/// (1.0, 1e3), whatever its size.
bool is_integral(const json::value& v) {
  if (!v.is_number()) return false;
  if (v.is_integer()) return true;
  const double d = v.as_double();
  return std::isfinite(d) && std::floor(d) == d;
}

/// The number as an int64 when it is integral and fits, else nullopt.
std::optional<std::int64_t> exact_int64(const json::value& v) {
  if (!v.is_number()) return std::nullopt;
  if (v.is_integer()) return v.as_int64();
  const double d = v.as_double();
  if (!std::isfinite(d) || std::floor(d) != d) return std::nullopt;
  if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return std::nullopt;
  return static_cast<std::int64_t>(d);
}

class array_view {
public:
  using const_iterator = array_iterator;
  using iterator = array_iterator;
  array_view() : items_(&empty_array()) {}
  explicit array_view(const json::array_t& items) : items_(&items) {}
  array_iterator begin() const;
  array_iterator end() const;
  std::size_t size() const { return items_->size(); }

private:
  const json::array_t* items_;
};

class object_view {
public:
  using const_iterator = member_iterator;
  using iterator = member_iterator;
  object_view() : members_(&empty_object()) {}
  explicit object_view(const json::object_t& members) : members_(&members) {}
  member_iterator begin() const;
  member_iterator end() const;
  member_iterator find(const std::string& key) const;
  std::size_t size() const { return members_->size(); }

private:
  const json::object_t* members_;
};

/// An owned copy, kept by the compiled schema for `enum` and `const`.
class frozen_value final : public valijson::adapters::FrozenValue {
public:
  explicit frozen_value(json::value v) : value_(std::move(v)) {}
  FrozenValue* clone() const override { return new frozen_value(value_); }
  bool equalTo(const valijson::adapters::Adapter& other, bool strict) const override;

private:
  json::value value_;
};

/// What BasicAdapter needs to read one value; BasicAdapter adds valijson's
/// conversion rules on top. Numbers that do not fit an int64 (big or
/// fractional) report isDouble() so that valijson reads them as doubles.
class value_view {
public:
  value_view() : v_(&empty_object_value()) {}
  value_view(const json::value& v) : v_(&v) {}

  valijson::adapters::FrozenValue* freeze() const { return new frozen_value(*v_); }
  std::optional<array_view> getArrayOptional() const {
    if (!v_->is_array()) return std::nullopt;
    return array_view(v_->as_array());
  }
  bool getArraySize(std::size_t& n) const {
    if (!v_->is_array()) return false;
    n = v_->as_array().size();
    return true;
  }
  bool getBool(bool& b) const {
    if (!v_->is_bool()) return false;
    b = v_->as_bool();
    return true;
  }
  bool getDouble(double& d) const {
    if (!v_->is_number()) return false;
    d = v_->as_double();
    return true;
  }
  bool getInteger(std::int64_t& n) const {
    const auto i = exact_int64(*v_);
    if (!i) return false;
    n = *i;
    return true;
  }
  std::optional<object_view> getObjectOptional() const {
    if (!v_->is_object()) return std::nullopt;
    return object_view(v_->as_object());
  }
  bool getObjectSize(std::size_t& n) const {
    if (!v_->is_object()) return false;
    n = v_->as_object().size();
    return true;
  }
  bool getString(std::string& s) const {
    if (!v_->is_string()) return false;
    s = v_->as_string();
    return true;
  }
  static bool hasStrictTypes() { return true; }
  bool isArray() const { return v_->is_array(); }
  bool isBool() const { return v_->is_bool(); }
  bool isDouble() const { return v_->is_number() && !exact_int64(*v_); }
  bool isInteger() const { return is_integral(*v_); }
  bool isNull() const { return v_->is_null(); }
  bool isNumber() const { return v_->is_number(); }
  bool isObject() const { return v_->is_object(); }
  bool isString() const { return v_->is_string(); }

private:
  const json::value* v_;
};

class node : public valijson::adapters::BasicAdapter<node, array_view, node_member, object_view, value_view> {
public:
  node() : json_(&empty_object_value()) {}
  node(const json::value& v) : BasicAdapter(value_view(v)), json_(&v) {}
  const json::value& json() const { return *json_; }

private:
  const json::value* json_;
};

class array_iterator {
public:
  using iterator_category = std::bidirectional_iterator_tag;
  using value_type = node;
  using difference_type = std::ptrdiff_t;
  using pointer = node*;
  using reference = node&;

  explicit array_iterator(json::array_t::const_iterator it) : it_(it) {}
  node operator*() const { return node(*it_); }
  valijson::adapters::DerefProxy<node> operator->() const { return valijson::adapters::DerefProxy<node>(**this); }
  bool operator==(const array_iterator& other) const { return it_ == other.it_; }
  bool operator!=(const array_iterator& other) const { return it_ != other.it_; }
  array_iterator& operator++() {
    ++it_;
    return *this;
  }
  array_iterator operator++(int) {
    array_iterator before = *this;
    ++it_;
    return before;
  }
  array_iterator& operator--() {
    --it_;
    return *this;
  }
  void advance(std::ptrdiff_t n) { it_ += n; }

private:
  json::array_t::const_iterator it_;
};

class member_iterator {
public:
  using iterator_category = std::bidirectional_iterator_tag;
  using value_type = node_member;
  using difference_type = std::ptrdiff_t;
  using pointer = node_member*;
  using reference = node_member&;

  explicit member_iterator(json::object_t::const_iterator it) : it_(it) {}
  node_member operator*() const { return node_member(it_->key, node(it_->val)); }
  valijson::adapters::DerefProxy<node_member> operator->() const {
    return valijson::adapters::DerefProxy<node_member>(**this);
  }
  bool operator==(const member_iterator& other) const { return it_ == other.it_; }
  bool operator!=(const member_iterator& other) const { return it_ != other.it_; }
  member_iterator& operator++() {
    ++it_;
    return *this;
  }
  member_iterator operator++(int) {
    member_iterator before = *this;
    ++it_;
    return before;
  }
  member_iterator& operator--() {
    --it_;
    return *this;
  }

private:
  json::object_t::const_iterator it_;
};

array_iterator array_view::begin() const {
  return array_iterator(items_->begin());
}
array_iterator array_view::end() const {
  return array_iterator(items_->end());
}
member_iterator object_view::begin() const {
  return member_iterator(members_->begin());
}
member_iterator object_view::end() const {
  return member_iterator(members_->end());
}
member_iterator object_view::find(const std::string& key) const {
  return member_iterator(
      std::find_if(members_->begin(), members_->end(), [&](const json::member& m) { return m.key == key; }));
}

bool frozen_value::equalTo(const valijson::adapters::Adapter& other, bool strict) const {
  return node(value_).equalTo(other, strict);
}

} // namespace
} // namespace kinto::json_schema

template <> struct valijson::adapters::AdapterTraits<kinto::json_schema::node> {
  using DocumentType = kinto::json::value;
  static std::string adapterName() { return "KintodJsonAdapter"; }
};

// ---------------------------------------------------------------------------
// Regular expressions. valijson matches `pattern` and `patternProperties`
// with std::regex, whose matcher recurses once per character (a long string
// overflows the stack and kills the process) and backtracks without limit.
// Boost.Regex matches without recursion and throws when a match gets too
// expensive; the valijson visitor members that match are replaced below for
// the adapters this file uses.

namespace kinto::json_schema {
namespace {

boost::regex make_regex(const std::string& pattern) {
  return boost::regex(pattern, boost::regex::ECMAScript);
}

/// Throws std::runtime_error when the match is too expensive to finish.
bool regex_matches(const boost::regex& re, const std::string& text) {
  try {
    return boost::regex_search(text, re);
  } catch (const std::runtime_error&) {
    throw std::runtime_error("matching the pattern '" + re.str() + "' is too expensive");
  }
}

template <typename Target, typename Constraint>
bool check_pattern(const Target& target, const Constraint& constraint, const std::vector<std::string>& context,
                   valijson::ValidationResults* results) {
  if (!target.isString()) return true;
  if (regex_matches(make_regex(constraint.template getPattern<std::string::allocator_type>()), target.asString()))
    return true;
  if (results) results->pushError(context, "Failed to match regex specified by 'pattern' constraint.");
  return false;
}

} // namespace
} // namespace kinto::json_schema

template <>
bool valijson::ValidationVisitor<kinto::json_schema::node>::visit(const constraints::PatternConstraint& constraint) {
  return kinto::json_schema::check_pattern(m_target, constraint, m_context, m_results);
}

template <>
bool valijson::ValidationVisitor<valijson::adapters::StdStringAdapter>::visit(
    const constraints::PatternConstraint& constraint) {
  return kinto::json_schema::check_pattern(m_target, constraint, m_context, m_results);
}

// valijson's own logic and messages, with Boost.Regex for patternProperties.
template <>
bool valijson::ValidationVisitor<kinto::json_schema::node>::visit(const constraints::PropertiesConstraint& constraint) {
  if (!m_target.isObject()) return true;
  bool validated = true;
  std::set<std::string> matched;
  const auto object = m_target.asObject();
  constraint.applyToProperties(ValidatePropertySubschemas(object, m_context, true, m_results != nullptr, true,
                                                          m_strictTypes, m_results, &matched, &validated,
                                                          m_regexesCache));
  if (!validated && !m_results) return false;

  constraint.applyToPatternProperties([&](const auto& pattern, const Subschema* subschema) {
    const std::string source(pattern.c_str());
    const boost::regex re = kinto::json_schema::make_regex(source);
    for (const auto member : object) {
      if (!kinto::json_schema::regex_matches(re, member.first)) continue;
      matched.insert(member.first);
      std::vector<std::string> context = m_context;
      context.push_back("[" + member.first + "]");
      ValidationVisitor child(member.second, context, m_strictTypes, m_results, m_regexesCache);
      if (child.validateSchema(*subschema)) continue;
      validated = false;
      if (!m_results) return false;
      m_results->pushError(m_context, "Failed to validate against schema associated with pattern '" + source + "'.");
    }
    return true;
  });
  if (!validated && !m_results) return false;

  const Subschema* additional = constraint.getAdditionalPropertiesSubschema();
  for (const auto member : object) {
    if (matched.count(member.first)) continue;
    if (!additional) {
      if (m_results)
        m_results->pushError(m_context, "Object contains a property that could not be validated using "
                                        "'properties' or 'additionalProperties' constraints: '" +
                                            member.first + "'.");
      return false;
    }
    std::vector<std::string> context = m_context;
    context.push_back("[" + member.first + "]");
    ValidationVisitor child(member.second, context, m_strictTypes, m_results, m_regexesCache);
    if (child.validateSchema(*additional)) continue;
    validated = false;
    if (!m_results) return false;
    m_results->pushError(m_context, "Failed to validate against additional properties schema");
  }
  return validated;
}

// ---------------------------------------------------------------------------
// uniqueItems. valijson compares every pair of items: quadratic, so a long
// array would hold a thread for hours. Sorting canonical forms is n log n.

namespace kinto::json_schema {
namespace {

/// A text equal for values jsonschema deems equal: object members sorted,
/// numbers by exact value (1 and 1.0 alike), booleans apart from numbers.
void canonical_to(const json::value& v, std::string& out) {
  switch (v.kind()) {
  case json::type::null:
    out += 'n';
    break;
  case json::type::boolean:
    out += v.as_bool() ? 't' : 'f';
    break;
  case json::type::number: {
    out += '#';
    if (v.is_integer()) {
      out += v.as_string() == "-0" ? "0" : v.as_string();
      break;
    }
    const double d = v.as_double();
    char buf[400];
    const bool integral = std::isfinite(d) && std::floor(d) == d;
    const auto res = integral ? std::to_chars(buf, buf + sizeof buf, d == 0 ? 0.0 : d, std::chars_format::fixed, 0)
                              : std::to_chars(buf, buf + sizeof buf, d);
    out.append(buf, res.ptr);
    break;
  }
  case json::type::string:
    json::quote_to(v.as_string(), out);
    break;
  case json::type::array:
    out += '[';
    for (const json::value& item : v.as_array()) {
      canonical_to(item, out);
      out += ',';
    }
    out += ']';
    break;
  case json::type::object: {
    std::vector<std::string> members;
    for (const json::member& m : v.as_object()) {
      std::string text;
      json::quote_to(m.key, text);
      text += ':';
      canonical_to(m.val, text);
      members.push_back(std::move(text));
    }
    std::sort(members.begin(), members.end());
    out += '{';
    for (const std::string& m : members) out += m + ',';
    out += '}';
    break;
  }
  }
}

/// Indexes of two equal items, the first pair in sorted order, if any.
std::optional<std::pair<std::size_t, std::size_t>> find_duplicate(const json::array_t& items) {
  std::vector<std::pair<std::string, std::size_t>> forms;
  forms.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    forms.emplace_back(std::string(), i);
    canonical_to(items[i], forms.back().first);
  }
  std::sort(forms.begin(), forms.end());
  for (std::size_t i = 1; i < forms.size(); ++i)
    if (forms[i - 1].first == forms[i].first) return std::pair(forms[i - 1].second, forms[i].second);
  return std::nullopt;
}

} // namespace
} // namespace kinto::json_schema

template <>
bool valijson::ValidationVisitor<kinto::json_schema::node>::visit(const constraints::UniqueItemsConstraint&) {
  if (!m_target.isArray()) return true;
  const auto duplicate = kinto::json_schema::find_duplicate(m_target.json().as_array());
  if (!duplicate) return true;
  if (m_results)
    m_results->pushError(m_context, "Elements at indexes #" + std::to_string(duplicate->first) + " and #" +
                                        std::to_string(duplicate->second) + " violate uniqueness constraint.");
  return false;
}

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

std::string repr_str(std::string_view s) {
  std::string out;
  repr_string(s, out);
  return out;
}

/// Python repr of a number valijson printed with std::to_string.
std::string repr_number_text(std::string_view text) {
  const double d = std::strtod(std::string(text).c_str(), nullptr);
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  std::string out;
  repr_float(d, out);
  return out;
}

// ---------------------------------------------------------------------------
// Walking a schema document.

template <typename Keys> bool one_of(std::string_view key, const Keys& keys) {
  return std::find(std::begin(keys), std::end(keys), key) != std::end(keys);
}
bool one_of(std::string_view key, std::initializer_list<std::string_view> keys) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Keywords whose value is a schema, an array of schemas, or a map of schemas.
constexpr std::string_view single_keywords[] = {
    "additionalItems", "additionalProperties", "contains", "propertyNames", "not", "if", "then", "else", "items"};
constexpr std::string_view array_keywords[] = {"allOf", "anyOf", "oneOf", "items"};
constexpr std::string_view map_keywords[] = {"properties", "patternProperties", "definitions", "$defs", "dependencies"};
// Of these, the ones applied to the value itself rather than to a part of it.
constexpr std::string_view in_place_keywords[] = {"allOf", "anyOf", "oneOf", "not",
                                                  "if",    "then",  "else",  "dependencies"};

/// Calls f(child, key) for every subschema directly inside `schema`.
template <typename Value, typename F> void for_each_subschema(Value& schema, F&& f) {
  if (!schema.is_object()) return;
  for (auto& m : schema.as_object()) {
    auto& v = m.val;
    if (one_of(m.key, single_keywords) && !v.is_array()) f(v, m.key);
    if (one_of(m.key, array_keywords) && v.is_array())
      for (auto& item : v.as_array()) f(item, m.key);
    if (one_of(m.key, map_keywords) && v.is_object())
      for (auto& entry : v.as_object())
        if (!entry.val.is_array()) f(entry.val, m.key); // dependencies may list names
  }
}

/// The target of a `$ref` within `root` ("#" or "#/json/pointer"), or null.
template <typename Value> Value* resolve_ref(Value& root, std::string_view ref) {
  if (ref.empty() || ref.front() != '#') return nullptr;
  std::string pointer;
  for (std::size_t i = 1; i < ref.size(); ++i) {
    if (ref[i] != '%') {
      pointer += ref[i];
      continue;
    }
    unsigned byte = 0;
    const char* digits = ref.data() + i + 1;
    if (i + 2 >= ref.size() || std::from_chars(digits, digits + 2, byte, 16).ptr != digits + 2) return nullptr;
    pointer += static_cast<char>(byte);
    i += 2;
  }
  Value* cur = &root;
  if (pointer.empty()) return cur;
  if (pointer.front() != '/') return nullptr;
  std::size_t pos = 1;
  while (cur) {
    const std::size_t next = pointer.find('/', pos);
    const std::string token = json::unescape_pointer_token(std::string_view(pointer).substr(pos, next - pos));
    if (cur->is_object()) {
      cur = cur->find(token);
    } else if (cur->is_array()) {
      std::size_t index = 0;
      const auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
      const bool ok = ec == std::errc{} && p == token.data() + token.size() && index < cur->as_array().size();
      cur = ok ? &cur->as_array()[index] : nullptr;
    } else {
      cur = nullptr;
    }
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return cur;
}

/// Drops the keywords that have no effect here but that valijson acts on:
/// `format` (upstream passes no format checker) and `id` (draft-04's `$id`,
/// ignored by draft-07; valijson would change the resolution scope, and
/// tests URNs with std::regex, which can overflow the stack).
void strip_ignored(json::value& schema) {
  if (!schema.is_object()) return;
  schema.erase("format");
  schema.erase("id");
  for_each_subschema(schema, [](json::value& child, std::string_view) { strip_ignored(child); });
}

/// jsonschema's check_schema() checks patterns with its "regex" format.
std::optional<std::string> check_patterns(const json::value& schema) {
  const auto bad = [](const std::string& pattern) {
    try {
      make_regex(pattern);
      return false;
    } catch (const std::exception&) {
      return true;
    }
  };
  if (!schema.is_object()) return std::nullopt;
  if (const json::value* p = schema.find("pattern"); p && p->is_string() && bad(p->as_string()))
    return repr_str(p->as_string()) + " is not a 'regex'";
  if (const json::value* pp = schema.find("patternProperties"); pp && pp->is_object())
    for (const json::member& m : pp->as_object())
      if (bad(m.key)) return repr_str(m.key) + " is not a 'regex'";
  return std::nullopt;
}

/// Longest path through `edges` (nodes 0..n-1), a node of a cycle counting
/// for its whole strongly connected component; `cyclic` tells whether there
/// is any cycle. Kosaraju's algorithm, iterative.
struct path_bound {
  std::size_t longest = 0;
  bool cyclic = false;
};
path_bound bound_paths(const std::vector<std::vector<std::size_t>>& edges) {
  const std::size_t n = edges.size();
  std::vector<std::vector<std::size_t>> reverse(n);
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b : edges[a]) reverse[b].push_back(a);
  std::vector<std::size_t> finished;
  std::vector<bool> seen(n);
  for (std::size_t start = 0; start < n; ++start) {
    if (seen[start]) continue;
    std::vector<std::pair<std::size_t, std::size_t>> stack{{start, 0}};
    seen[start] = true;
    while (!stack.empty()) {
      auto& [a, next] = stack.back();
      if (next == edges[a].size()) {
        finished.push_back(a);
        stack.pop_back();
      } else if (const std::size_t b = edges[a][next++]; !seen[b]) {
        seen[b] = true;
        stack.emplace_back(b, 0);
      }
    }
  }
  // Components come out in topological order, sources first.
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::vector<std::size_t> component(n, none), weight;
  for (auto it = finished.rbegin(); it != finished.rend(); ++it) {
    if (component[*it] != none) continue;
    const std::size_t c = weight.size();
    weight.push_back(0);
    std::vector<std::size_t> stack{*it};
    component[*it] = c;
    while (!stack.empty()) {
      const std::size_t a = stack.back();
      stack.pop_back();
      ++weight[c];
      for (std::size_t b : reverse[a])
        if (component[b] == none) {
          component[b] = c;
          stack.push_back(b);
        }
    }
  }
  path_bound result;
  std::vector<std::size_t> best(weight.size(), 0);
  std::vector<std::vector<std::size_t>> members(weight.size());
  for (std::size_t a = 0; a < n; ++a) members[component[a]].push_back(a);
  for (std::size_t c = weight.size(); c-- > 0;) {
    std::size_t tail = 0;
    for (std::size_t a : members[c])
      for (std::size_t b : edges[a]) {
        if (component[b] != c) tail = std::max(tail, best[component[b]]);
        if (b == a) result.cyclic = true;
      }
    if (weight[c] > 1) result.cyclic = true;
    best[c] = weight[c] + tail;
    result.longest = std::max(result.longest, best[c]);
  }
  return result;
}

/// Every pattern must compile and every `$ref` resolve within the schema.
/// valijson recurses once per
/// subschema when compiling and once per in-place step ($ref, allOf, not,
/// if...) and instance level when validating, so: no loop of in-place steps
/// (it would never end), and bounded chains of both kinds (deep ones would
/// overflow the stack; the bounds leave a wide margin for documents nested as
/// deep as json::default_max_depth).
std::optional<std::string> check_structure(const json::value& root) {
  constexpr std::size_t max_chain = 1000, max_in_place_chain = 100;
  std::unordered_map<const json::value*, std::size_t> index{{&root, 0}};
  std::vector<const json::value*> nodes{&root};
  std::vector<std::vector<std::size_t>> all(1), in_place(1);
  const auto id = [&](const json::value* s) {
    auto [it, added] = index.emplace(s, nodes.size());
    if (added) {
      nodes.push_back(s);
      all.emplace_back();
      in_place.emplace_back();
    }
    return it->second;
  };
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const json::value& s = *nodes[i];
    if (auto problem = check_patterns(s)) return problem;
    if (!s.is_object()) continue;
    // Left by strip_ignored() only where a $ref points outside the keywords.
    for (const char* keyword : {"format", "id"})
      if (const json::value* v = s.find(keyword); v && v->is_string())
        return std::string("'") + keyword + "' is not supported where a $ref points outside the schema's keywords";
    if (const json::value* ref = s.find("$ref"); ref && ref->is_string()) {
      const json::value* target = resolve_ref(root, ref->as_string());
      if (!target) return "unresolvable reference " + repr_str(ref->as_string());
      const std::size_t t = id(target);
      all[i].push_back(t);
      in_place[i].push_back(t);
    }
    for_each_subschema(s, [&](const json::value& child, std::string_view key) {
      const std::size_t c = id(&child);
      all[i].push_back(c);
      if (one_of(key, in_place_keywords)) in_place[i].push_back(c);
    });
  }
  const path_bound steps = bound_paths(in_place);
  if (steps.cyclic) return std::string("the schema refers to itself in a loop that never descends into the document");
  if (steps.longest > max_in_place_chain)
    return "the schema chains more than " + std::to_string(max_in_place_chain) +
           " $ref/allOf/anyOf/oneOf/not/if levels";
  if (bound_paths(all).longest > max_chain)
    return "the schema nests more than " + std::to_string(max_chain) + " subschemas deep";
  return std::nullopt;
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

/// jsonschema's first error among valijson's `errors` (which list nested
/// errors before the errors that summarise them).
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

} // namespace

// ---------------------------------------------------------------------------
// compiled

struct compiled::state {
  json::value document; ///< the schema, without the keywords strip_ignored() drops
  valijson::Schema schema;
};

std::optional<compiled> compiled::build(const json::value& schema, std::string& error) {
  try {
    auto s = std::make_shared<state>();
    s->document = schema;
    strip_ignored(s->document);
    if (auto problem = check_structure(s->document)) {
      error = *problem;
      return std::nullopt;
    }
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    parser.populateSchema(node(s->document), s->schema);
    return compiled(std::move(s));
  } catch (const std::exception& e) {
    error = e.what();
    return std::nullopt;
  }
}

std::optional<compiled> compiled::compile(const json::value& schema, std::string& error) {
  static const std::optional<compiled> metaschema = [] {
    std::string problem;
    auto document = json::parse(draft07_metaschema(), problem);
    return document ? build(*document, problem) : std::nullopt;
  }();
  if (!metaschema) {
    error = "the draft-07 meta-schema could not be loaded";
    return std::nullopt;
  }
  if (auto f = metaschema->validate(schema)) {
    error = std::move(f->description);
    return std::nullopt;
  }
  return build(schema, error);
}

std::optional<failure> compiled::validate(const json::value& instance) const {
  try {
    // One validator per call: valijson's validator holds a regex cache
    // without locking, while the compiled schema is only read.
    valijson::Validator validator;
    const node target(instance);
    if (validator.validate(state_->schema, target, nullptr)) return std::nullopt;
    // Invalid: validate again, collecting every error this time.
    valijson::ValidationResults results;
    validator.validate(state_->schema, target, &results);
    return describe(results, state_->document, instance);
  } catch (const std::exception& e) {
    return failure{"", std::string("the document could not be validated: ") + e.what(), "schema"};
  }
}

std::optional<std::string> check_schema(const json::value& schema) {
  std::string error;
  if (compiled::compile(schema, error)) return std::nullopt;
  return error;
}

} // namespace kinto::json_schema
