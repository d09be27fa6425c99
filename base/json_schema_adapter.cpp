// The valijson adapter over kinto::json::value, Boost.Regex in place of
// valijson's std::regex matching, and an n log n uniqueItems. Depends on
// base/json*.hpp, valijson and Boost.Regex only; knows nothing of error wording.
#include "base/json_schema_adapter.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace kinto::json_schema {

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

bool is_integral(const json::value& v) {
  if (!v.is_number()) return false;
  if (v.is_integer()) return true;
  const double d = v.as_double();
  return std::isfinite(d) && std::floor(d) == d;
}

std::optional<std::int64_t> exact_int64(const json::value& v) {
  if (!v.is_number()) return std::nullopt;
  if (v.is_integer()) return v.as_int64();
  const double d = v.as_double();
  if (!std::isfinite(d) || std::floor(d) != d) return std::nullopt;
  if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return std::nullopt;
  return static_cast<std::int64_t>(d);
}

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

} // namespace kinto::json_schema

// ---------------------------------------------------------------------------
// Regular expressions. valijson matches `pattern` and `patternProperties`
// with std::regex, whose matcher recurses once per character (a long string
// overflows the stack and kills the process) and backtracks without limit.
// Boost.Regex matches without recursion and throws when a match gets too
// expensive; the valijson visitor members that match are replaced below for
// the adapters this file uses.

namespace kinto::json_schema {

boost::regex make_regex(const std::string& pattern) {
  return boost::regex(pattern, boost::regex::ECMAScript);
}

bool regex_matches(const boost::regex& re, const std::string& text) {
  try {
    return boost::regex_search(text, re);
  } catch (const std::runtime_error&) {
    throw std::runtime_error("matching the pattern '" + re.str() + "' is too expensive");
  }
}

namespace {

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
