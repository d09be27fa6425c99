// Kinto's query language for plural endpoints (querying.md): parsing and
// validation of query parameters, filter evaluation in the cross-type order,
// sort comparison, pagination tokens and `_fields`. Depends only on schema/.
#include "schema/query.hpp"

#include "base/crypto.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <numeric>
#include <string_view>

namespace kinto::query {
namespace {

constexpr std::string_view id_field = "id";
constexpr std::string_view modified_field = "last_modified";
constexpr std::string_view deleted_field = "deleted";
constexpr std::uint64_t day_ms = 24ULL * 60 * 60 * 1000;
// in_/exclude_ lists longer than this are binary-searched rather than scanned.
constexpr std::size_t linear_in_max = 8;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Python's Unicode `\w`, approximated: ASCII letters, digits, underscore and
/// any non-ASCII byte (query strings are valid UTF-8 by now).
bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/// Matches `[\w.]+`.
bool is_field_text(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
           return c == '.' || is_word_byte(static_cast<unsigned char>(c));
         });
}

field_path split_path(std::string_view field) {
  field_path path;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = field.find('.', start);
    if (dot == std::string_view::npos) {
      path.emplace_back(field.substr(start));
      return path;
    }
    path.emplace_back(field.substr(start, dot - start));
    start = dot + 1;
  }
}

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
}

std::string_view root_of(std::string_view field) { return field.substr(0, field.find('.')); }

bool is_known_field(const field_policy& policy, std::string_view field) {
  if (policy.any) return true;
  const std::string_view root = root_of(field);
  if (root == id_field || root == modified_field || root == deleted_field) return true;
  return std::find(policy.known_roots.begin(), policy.known_roots.end(), root) != policy.known_roots.end();
}

// ---------------------------------------------------------------------------
// Cross-type order

int type_rank(const json::value* v) {
  if (!v) return 6;
  switch (v->kind()) {
    case json::type::null: return 0;
    case json::type::string: return 1;
    case json::type::number: return 2;
    case json::type::boolean: return 3;
    case json::type::array: return 4;
    case json::type::object: return 5;
  }
  return 6;
}

int sign_of(int c) { return (c > 0) - (c < 0); }

bool literal_is_integer(std::string_view s) {
  // A plain loop: find_first_of searches the needle once per character.
  for (char c : s)
    if (c == '.' || c == 'e' || c == 'E') return false;
  return true;
}

/// Integer literals compared exactly as sign and digits; the JSON grammar
/// forbids leading zeros, so a longer magnitude is a larger one.
int compare_integer_literals(std::string_view a, std::string_view b) {
  const bool neg_a = !a.empty() && a.front() == '-';
  const bool neg_b = !b.empty() && b.front() == '-';
  if (neg_a) a.remove_prefix(1);
  if (neg_b) b.remove_prefix(1);
  const bool negative_a = neg_a && a != "0";
  const bool negative_b = neg_b && b != "0";
  if (negative_a != negative_b) return negative_a ? -1 : 1;
  int magnitude = a.size() != b.size() ? (a.size() < b.size() ? -1 : 1) : sign_of(a.compare(b));
  return negative_a ? -magnitude : magnitude;
}

int compare_numbers(const json::value& a, const json::value& b) {
  const std::string& la = a.as_string();
  const std::string& lb = b.as_string();
  if (literal_is_integer(la) && literal_is_integer(lb)) return compare_integer_literals(la, lb);
  const double da = a.as_double();
  const double db = b.as_double();
  return da < db ? -1 : (db < da ? 1 : 0);
}

int compare_arrays(const json::array_t& a, const json::array_t& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i)
    if (int c = compare(&a[i], &b[i])) return c;
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

/// By member count, then members sorted by key: equal exactly when the
/// objects are equal under json's operator== (member order ignored).
int compare_objects(const json::object_t& a, const json::object_t& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  auto sorted_members = [](const json::object_t& o) {
    std::vector<const json::member*> members;
    members.reserve(o.size());
    for (const auto& m : o) members.push_back(&m);
    std::sort(members.begin(), members.end(),
              [](const json::member* x, const json::member* y) { return x->key < y->key; });
    return members;
  };
  const auto ma = sorted_members(a);
  const auto mb = sorted_members(b);
  for (std::size_t i = 0; i < ma.size(); ++i) {
    if (int c = sign_of(ma[i]->key.compare(mb[i]->key))) return c;
    if (int c = compare(&ma[i]->val, &mb[i]->val)) return c;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// like_ patterns

/// ASCII and Latin-1 (U+00C0..U+00DE) simple lowercase of one UTF-8 byte,
/// given the byte before it; folding never changes a string's length.
unsigned char fold_byte(unsigned char c, unsigned char previous) {
  if (c >= 'A' && c <= 'Z') return static_cast<unsigned char>(c + ('a' - 'A'));
  if (previous == 0xC3 && c >= 0x80 && c <= 0x9E && c != 0x97) return static_cast<unsigned char>(c + 0x20);
  return c;
}

std::string fold(std::string_view s) {
  std::string out(s);
  unsigned char previous = 0;
  for (char& ch : out) {
    const auto c = static_cast<unsigned char>(ch);
    ch = static_cast<char>(fold_byte(c, previous));
    previous = c;
  }
  return out;
}

std::string like_pattern_of(std::string_view value) {
  std::string pattern = fold(value);
  if (pattern.find('*') == std::string::npos) pattern = "*" + pattern + "*";
  return pattern;
}

/// True when `subject` folded equals the folded `segment` at `pos`.
bool segment_at(std::string_view subject, std::size_t pos, std::string_view segment) {
  for (std::size_t i = 0; i < segment.size(); ++i) {
    const std::size_t at = pos + i;
    const auto previous = at == 0 ? 0 : static_cast<unsigned char>(subject[at - 1]);
    if (fold_byte(static_cast<unsigned char>(subject[at]), previous) != static_cast<unsigned char>(segment[i]))
      return false;
  }
  return true;
}

/// First position >= `from` where `segment` occurs ending at or before `limit`.
std::size_t find_segment(std::string_view subject, std::string_view segment, std::size_t from, std::size_t limit) {
  for (std::size_t pos = from; pos + segment.size() <= limit; ++pos)
    if (segment_at(subject, pos, segment)) return pos;
  return std::string_view::npos;
}

/// Glob match where `*` is the only wildcard; `pattern` is folded and holds
/// at least one `*`. Head and tail are anchored, middle segments taken
/// leftmost first, which is exact for `*`-only patterns.
bool like_matches(std::string_view subject, std::string_view pattern) {
  const std::size_t first_star = pattern.find('*');
  const std::size_t last_star = pattern.rfind('*');
  const std::string_view head = pattern.substr(0, first_star);
  const std::string_view tail = pattern.substr(last_star + 1);
  if (head.size() + tail.size() > subject.size()) return false;
  if (!segment_at(subject, 0, head)) return false;
  const std::size_t limit = subject.size() - tail.size();
  if (!segment_at(subject, limit, tail)) return false;
  std::size_t pos = head.size();
  std::string_view middle = pattern.substr(first_star + 1, last_star - first_star);
  while (!middle.empty()) {
    const std::size_t star = middle.find('*');
    const std::string_view segment = middle.substr(0, star);
    if (!segment.empty()) {
      const std::size_t found = find_segment(subject, segment, pos, limit);
      if (found == std::string_view::npos) return false;
      pos = found + segment.size();
    }
    middle.remove_prefix(star == std::string_view::npos ? middle.size() : star + 1);
  }
  return true;
}

// ---------------------------------------------------------------------------
// Evaluation helpers

/// Python truthiness of a typed has_ value.
bool truthy(const json::value& v) {
  switch (v.kind()) {
    case json::type::null: return false;
    case json::type::boolean: return v.as_bool();
    case json::type::number: return v.as_double() != 0.0;
    case json::type::string: return !v.as_string().empty();
    case json::type::array: return !v.as_array().empty();
    case json::type::object: return !v.as_object().empty();
  }
  return false;
}

bool is_scalar(const json::value& v) { return !v.is_array() && !v.is_object(); }

/// The filter value as a list: its elements, or itself when not an array.
template <class Fn> bool any_element(const json::value& list, Fn&& fn) {
  if (!list.is_array()) return fn(list);
  return std::any_of(list.as_array().begin(), list.as_array().end(), fn);
}
template <class Fn> bool all_elements(const json::value& list, Fn&& fn) {
  if (!list.is_array()) return fn(list);
  return std::all_of(list.as_array().begin(), list.as_array().end(), fn);
}

bool is_one_of(const filter& f, const json::value& v) {
  if (!f.sorted.empty() && f.value.is_array()) {
    // Every listed element is a scalar, for which compare() agrees with ==.
    if (!is_scalar(v)) return false;
    const json::array_t& elements = f.value.as_array();
    auto it = std::lower_bound(f.sorted.begin(), f.sorted.end(), &v, [&](std::uint32_t index, const json::value* x) {
      return compare(&elements[index], x) < 0;
    });
    return it != f.sorted.end() && compare(&elements[*it], &v) == 0;
  }
  return any_element(f.value, [&](const json::value& e) { return e == v; });
}

bool array_has(const json::value& array, const json::value& element) {
  return std::any_of(array.as_array().begin(), array.as_array().end(),
                     [&](const json::value& x) { return x == element; });
}

bool contains_string_nul(const json::value& v) {
  switch (v.kind()) {
    case json::type::string: return v.as_string().find('\0') != std::string::npos;
    case json::type::array:
      return std::any_of(v.as_array().begin(), v.as_array().end(), contains_string_nul);
    case json::type::object:
      return std::any_of(v.as_object().begin(), v.as_object().end(), [](const json::member& m) {
        return m.key.find('\0') != std::string::npos || contains_string_nul(m.val);
      });
    default: return false;
  }
}

// ---------------------------------------------------------------------------
// Parsing

struct operator_name {
  std::string_view prefix;
  op operation;
};
// In the order of upstream's regex alternation: the first that fits wins.
constexpr std::array<operator_name, 12> operator_names{{
    {"lt", op::lt},
    {"min", op::min},
    {"max", op::max},
    {"not", op::not_},
    {"eq", op::eq},
    {"gt", op::gt},
    {"in", op::in},
    {"exclude", op::exclude},
    {"like", op::like},
    {"has", op::has},
    {"contains_any", op::contains_any},
    {"contains", op::contains},
}};

error invalid_value(std::string_view param) {
  return invalid_parameter("querystring", std::string(param), "Invalid value for " + std::string(param));
}

error not_a_number(std::string_view param, std::string_view raw) {
  return invalid_parameter("querystring", std::string(param), "\"" + std::string(raw) + "\" is not a number");
}

/// A last_modified filter value: an integer, or a digit string, in
/// [0, now + 24 h).
std::optional<std::uint64_t> timestamp_of(const json::value& v, std::uint64_t now_ms) {
  std::string_view digits;
  if (v.is_number() && v.is_integer())
    digits = v.as_string();
  else if (v.is_string())
    digits = v.as_string();
  else
    return std::nullopt;
  if (!is_digits(digits)) return std::nullopt;
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc{} || ptr != digits.data() + digits.size()) return std::nullopt;
  if (n >= now_ms + day_ms) return std::nullopt;
  return n;
}

/// `_since`, `_before`, `_to`: nullopt result with no error means "absent".
std::variant<std::optional<std::uint64_t>, error> parse_bound(std::string_view param, std::string_view raw,
                                                               std::uint64_t now_ms) {
  if (raw == "null") return std::optional<std::uint64_t>{};
  std::string_view s = raw;
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  const bool negative = !s.empty() && s.front() == '-';
  if (!is_digits(negative ? s.substr(1) : s)) return not_a_number(param, raw);
  if (negative) return invalid_value(param);
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || ptr != s.data() + s.size() || n >= now_ms + day_ms) return invalid_value(param);
  return std::optional<std::uint64_t>{n};
}

std::optional<error> parse_limit(std::string_view raw, std::optional<std::int64_t>& limit) {
  const std::string_view s = trim(raw);
  if (s.empty()) return std::nullopt; // upstream drops an empty _limit
  std::string_view digits = s;
  const bool negative = digits.front() == '-';
  if (negative || digits.front() == '+') digits.remove_prefix(1);
  if (!is_digits(digits)) return not_a_number("_limit", raw);
  if (negative && digits.find_first_not_of('0') != std::string_view::npos)
    return invalid_parameter("querystring", "_limit", std::string(s) + " is less than minimum value 0");
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc{} || ptr != digits.data() + digits.size())
    return invalid_parameter("querystring", "_limit",
                             std::string(s) + " is greater than maximum value " +
                                 std::to_string(std::numeric_limits<std::int64_t>::max()));
  limit = n;
  return std::nullopt;
}

std::optional<error> parse_sort(std::string_view raw, const field_policy& policy, std::vector<sort_key>& keys) {
  keys.clear();
  for (std::string_view piece : split_commas(raw)) {
    piece = trim(piece);
    const bool descending = !piece.empty() && piece.front() == '-';
    if (!piece.empty() && (piece.front() == '-' || piece.front() == '+')) piece.remove_prefix(1);
    if (!is_field_text(piece)) continue;
    if (!is_known_field(policy, piece))
      return invalid_parameter("querystring", std::nullopt, "Unknown sort field '" + std::string(piece) + "'");
    keys.push_back(sort_key{std::string(piece), split_path(piece), descending});
  }
  return std::nullopt;
}

std::optional<error> parse_fields(std::string_view raw, const field_policy& policy,
                                  std::optional<std::vector<std::string>>& fields) {
  std::vector<std::string> list;
  std::string unknown;
  for (std::string_view piece : split_commas(raw)) {
    piece = trim(piece);
    if (piece.empty()) continue;
    if (!is_known_field(policy, piece)) {
      if (!unknown.empty()) unknown += ',';
      unknown += piece;
    }
    list.emplace_back(piece);
  }
  if (!unknown.empty())
    return invalid_parameter("body", "Invalid _fields parameter", "Fields " + unknown + " do not exist");
  fields = std::move(list);
  return std::nullopt;
}

/// Splits a filter parameter name into operator and field (querying.md §3.1).
void split_name(std::string_view name, op& operation, std::string_view& field) {
  for (const auto& candidate : operator_names) {
    if (name.size() > candidate.prefix.size() + 1 && name.substr(0, candidate.prefix.size()) == candidate.prefix &&
        name[candidate.prefix.size()] == '_') {
      const std::string_view rest = name.substr(candidate.prefix.size() + 1);
      if (is_field_text(rest)) {
        operation = candidate.operation;
        field = rest;
        return;
      }
    }
  }
  operation = op::eq;
  field = name;
}

/// Types and checks a filter value for its operator and special field.
std::optional<error> type_filter_value(filter& f, std::string_view raw, std::uint64_t now_ms) {
  const std::string_view param = f.param;
  const bool on_id = f.field == id_field;
  const bool on_modified = f.field == modified_field;
  switch (f.operation) {
    case op::in:
    case op::exclude: {
      json::array_t elements;
      for (std::string_view piece : split_commas(raw)) elements.push_back(typed_value(piece));
      if (on_id && !std::all_of(elements.begin(), elements.end(), [](const json::value& e) { return e.is_string(); }))
        return invalid_value(param);
      if (on_modified &&
          !std::all_of(elements.begin(), elements.end(), [](const json::value& e) { return e.is_integer(); }))
        return invalid_value(param);
      f.value = json::value(std::move(elements));
      return std::nullopt;
    }
    case op::contains:
    case op::contains_any: {
      if (on_id || on_modified)
        return invalid_parameter("querystring", std::string(param), "Field '" + f.field + "' is not an array");
      json::value v = typed_value(raw);
      if (!v.is_array()) {
        json::array_t wrapped;
        wrapped.push_back(std::move(v));
        v = json::value(std::move(wrapped));
      }
      f.value = std::move(v);
      return std::nullopt;
    }
    case op::has: f.value = typed_value(raw); return std::nullopt;
    default: break;
  }
  json::value v = typed_value(raw);
  if (on_id && v.is_number()) v = json::value(v.as_string());
  if (on_modified && f.operation != op::like) {
    auto ts = timestamp_of(v, now_ms);
    if (!ts) return invalid_value(param);
    v = json::value(*ts);
  }
  if (f.operation == op::like && !v.is_string()) return invalid_value(param);
  f.value = std::move(v);
  return std::nullopt;
}

std::variant<filter, error> parse_filter(std::string_view name, std::string_view raw, std::uint64_t now_ms,
                                         const field_policy& policy) {
  filter f;
  f.param = std::string(name);
  std::string_view field;
  split_name(name, f.operation, field);
  f.field = std::string(field);
  if (name.find('\0') != std::string_view::npos || raw.find('\0') != std::string_view::npos)
    return invalid_parameter("querystring", f.param, "Invalid character 0x00");
  if (!is_known_field(policy, field))
    return invalid_parameter("querystring", f.param, "Unknown filter field '" + f.param + "'");
  if (auto e = type_filter_value(f, raw, now_ms)) return std::move(*e);
  if (contains_string_nul(f.value)) return invalid_parameter("querystring", f.param, "Invalid character 0x00");
  f.path = split_path(f.field);
  prepare(f);
  return f;
}

filter bound_filter(std::string_view param, op operation, std::uint64_t value) {
  filter f;
  f.operation = operation;
  f.param = std::string(param);
  f.field = std::string(modified_field);
  f.path = {std::string(modified_field)};
  f.value = json::value(value);
  return f;
}

/// `_fields` projection of one path into `out`, merging with what is there.
void project_path(const json::value& source, const std::string* segment, const std::string* end, json::value& out) {
  const json::value* v = source.find(*segment);
  if (!v) return;
  if (segment + 1 == end || !v->is_object()) {
    out.set(*segment, *v);
    return;
  }
  json::value* child = out.find(*segment);
  if (!child || !child->is_object()) {
    out.set(*segment, json::value::object());
    child = out.find(*segment);
  }
  project_path(*v, segment + 1, end, *child);
}

} // namespace

// ---------------------------------------------------------------------------
// Public API

bool request::includes_tombstones() const {
  return std::any_of(filters.begin(), filters.end(), [](const filter& f) { return f.field == modified_field; });
}

json::value typed_value(std::string_view raw) {
  std::string ignored;
  if (auto v = json::parse(raw, ignored)) return std::move(*v);
  return json::value(raw);
}

void prepare(filter& f) {
  if (f.path.empty()) f.path = split_path(f.field);
  f.like_pattern.clear();
  f.sorted.clear();
  if (f.operation == op::like && f.value.is_string()) f.like_pattern = like_pattern_of(f.value.as_string());
  if ((f.operation == op::in || f.operation == op::exclude) && f.value.is_array()) {
    const json::array_t& elements = f.value.as_array();
    if (elements.size() > linear_in_max && std::all_of(elements.begin(), elements.end(), is_scalar)) {
      f.sorted.resize(elements.size());
      std::iota(f.sorted.begin(), f.sorted.end(), 0U);
      std::sort(f.sorted.begin(), f.sorted.end(),
                [&](std::uint32_t a, std::uint32_t b) { return compare(&elements[a], &elements[b]) < 0; });
    }
  }
}

std::variant<request, error> parse(const std::vector<std::pair<std::string, std::string>>& params,
                                   std::uint64_t now_ms, const field_policy& policy) {
  request r;
  for (const auto& [raw_name, raw_value] : params) {
    const std::string_view name = trim(raw_name);
    const std::string_view value = raw_value;
    if (name == "_since" || name == "_before" || name == "_to") {
      auto bound = parse_bound(name, value, now_ms);
      if (auto* e = std::get_if<error>(&bound)) return std::move(*e);
      const auto ts = std::get<std::optional<std::uint64_t>>(bound);
      if (!ts) continue;
      if (name == "_since") {
        r.filters.push_back(bound_filter(name, op::gt, *ts));
        r.since = std::max(r.since.value_or(0), *ts);
      } else {
        r.filters.push_back(bound_filter(name, op::lt, *ts));
        r.before = r.before ? std::min(*r.before, *ts) : *ts;
        if (name == "_to") r.deprecated_to = true;
      }
    } else if (name == "_limit") {
      if (auto e = parse_limit(value, r.limit)) return std::move(*e);
    } else if (name == "_token") {
      if (value.empty()) continue;
      auto decoded = decode_token(value);
      if (auto* e = std::get_if<error>(&decoded)) return std::move(*e);
      r.token = std::string(value);
    } else if (name == "_sort") {
      if (auto e = parse_sort(value, policy, r.sort)) return std::move(*e);
    } else if (name == "_fields") {
      if (auto e = parse_fields(value, policy, r.fields)) return std::move(*e);
    } else if (!name.empty() && name.front() == '_') {
      continue; // cache-busters and the like
    } else {
      auto parsed = parse_filter(name, value, now_ms, policy);
      if (auto* e = std::get_if<error>(&parsed)) return std::move(*e);
      r.filters.push_back(std::move(std::get<filter>(parsed)));
    }
  }
  // Upstream appends `-last_modified` unless `last_modified` was requested;
  // skipping it when the last key already is on last_modified gives the same
  // order without a redundant key.
  if (r.sort.empty() || r.sort.back().field != modified_field)
    r.sort.push_back(sort_key{std::string(modified_field), {std::string(modified_field)}, true});
  return r;
}

const json::value* lookup(const json::value& object, const field_path& path) {
  const json::value* current = &object;
  for (const std::string& segment : path) {
    current = current->find(segment); // nullptr when current is not an object
    if (!current) return nullptr;
  }
  return current;
}

int compare(const json::value* a, const json::value* b) {
  const int rank_a = type_rank(a);
  const int rank_b = type_rank(b);
  if (rank_a != rank_b) return rank_a < rank_b ? -1 : 1;
  if (!a) return 0;
  switch (a->kind()) {
    case json::type::null: return 0;
    case json::type::string: return sign_of(a->as_string().compare(b->as_string()));
    case json::type::number: return compare_numbers(*a, *b);
    case json::type::boolean: return static_cast<int>(a->as_bool()) - static_cast<int>(b->as_bool());
    case json::type::array: return compare_arrays(a->as_array(), b->as_array());
    case json::type::object: return compare_objects(a->as_object(), b->as_object());
  }
  return 0;
}

bool matches(const filter& f, const json::value& object) {
  const json::value* v = lookup(object, f.path);
  switch (f.operation) {
    case op::eq: return v && *v == f.value;
    case op::not_: return !v || !(*v == f.value);
    // An absent field compares above every value (querying.md §3.2).
    case op::lt: return compare(v, &f.value) < 0;
    case op::max: return compare(v, &f.value) <= 0;
    case op::gt: return compare(v, &f.value) > 0;
    case op::min: return compare(v, &f.value) >= 0;
    case op::in: return v && is_one_of(f, *v);
    case op::exclude: return !v || !is_one_of(f, *v);
    case op::like:
      if (!v || !v->is_string() || !f.value.is_string()) return false;
      if (!f.like_pattern.empty()) return like_matches(v->as_string(), f.like_pattern);
      return like_matches(v->as_string(), like_pattern_of(f.value.as_string()));
    case op::has: return (v != nullptr) == truthy(f.value);
    case op::contains:
      return v && v->is_array() && all_elements(f.value, [&](const json::value& e) { return array_has(*v, e); });
    case op::contains_any:
      return v && v->is_array() && any_element(f.value, [&](const json::value& e) { return array_has(*v, e); });
  }
  return false;
}

bool matches_all(const std::vector<filter>& filters, const json::value& object) {
  for (const filter& f : filters)
    if (!matches(f, object)) return false;
  return true;
}

int compare_by(const std::vector<sort_key>& keys, const json::value& a, const json::value& b) {
  for (const sort_key& key : keys) {
    const int c = compare(lookup(a, key.path), lookup(b, key.path));
    if (c != 0) return key.descending ? -c : c;
  }
  return 0;
}

std::string encode_token(const token& t) {
  json::value body = json::value::object();
  body.set("last_object", t.last_object);
  body.set("offset", json::value(t.offset));
  body.set("nonce", json::value(t.nonce));
  return crypto::base64_encode(json::serialize(body));
}

std::variant<token, error> decode_token(std::string_view raw) {
  auto invalid = [] { return invalid_parameter("querystring", std::nullopt, "_token has invalid content"); };
  const auto text = crypto::base64_decode(raw);
  if (!text) return invalid();
  std::string parse_error;
  const auto body = json::parse(*text, parse_error);
  if (!body || !body->is_object()) return invalid();
  const json::value* last_object = body->find("last_object");
  const json::value* offset = body->find("offset");
  const json::value* nonce = body->find("nonce");
  if (!last_object || !offset || !nonce || !last_object->is_object()) return invalid();
  // Upstream only requires offset and nonce to be present; they are informational.
  token t;
  t.last_object = *last_object;
  t.offset = offset->as_int64().value_or(0);
  t.nonce = nonce->is_string() ? nonce->as_string() : json::serialize(*nonce);
  return t;
}

token token_after(const std::vector<sort_key>& keys, const json::value& last, std::int64_t offset) {
  token t;
  for (const sort_key& key : keys)
    if (const json::value* v = lookup(last, key.path)) t.last_object.set(key.field, *v);
  t.offset = offset;
  t.nonce = "pagination-token-" + crypto::uuid4();
  return t;
}

bool after_token(const std::vector<sort_key>& keys, const json::value& last_object, const json::value& object) {
  // The OR of (k1..k(i-1) equal AND ki strictly after) is the lexicographic
  // order: the first key that differs decides.
  for (const sort_key& key : keys) {
    const int c = compare(lookup(object, key.path), last_object.find(key.field));
    if (c != 0) return key.descending ? c < 0 : c > 0;
  }
  return false;
}

json::value project(const json::value& object, const std::vector<std::string>& fields) {
  json::value out = json::value::object();
  if (!object.is_object()) return out;
  auto keep = [&](std::string_view field) {
    const field_path path = split_path(field);
    project_path(object, path.data(), path.data() + path.size(), out);
  };
  for (const std::string& field : fields) keep(field);
  if (const json::value* id = object.find(id_field)) out.set(id_field, *id);
  if (const json::value* modified = object.find(modified_field)) out.set(modified_field, *modified);
  return out;
}

} // namespace kinto::query
