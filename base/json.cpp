// The JSON document model: value semantics, parsing with simdjson On Demand,
// and compact serialization in the style of Python's json.dumps.
// Depends only on simdjson and the standard library.
#include "base/json.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

namespace kinto::json {

namespace {

// ---------------------------------------------------------------------------
// Number literals

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

bool is_json_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim_space(std::string_view s) noexcept {
  while (!s.empty() && is_json_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
  return s;
}

/// Length of the longest prefix of `s` that is a JSON number, 0 if none.
std::size_t number_prefix(std::string_view s) noexcept {
  std::size_t i = 0;
  const std::size_t n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return 0;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && is_digit(s[i])) ++i;
  } else {
    return 0;
  }
  if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
    i += 2;
    while (i < n && is_digit(s[i])) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < n && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < n && is_digit(s[j])) {
      while (j < n && is_digit(s[j])) ++j;
      i = j;
    }
  }
  return i;
}

bool is_number_literal(std::string_view s) noexcept {
  return !s.empty() && number_prefix(s) == s.size();
}

bool literal_is_integer(std::string_view s) noexcept {
  return s.find_first_of(".eE") == std::string_view::npos;
}

double literal_to_double(std::string_view s) noexcept {
  double d = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec == std::errc{} && ptr == s.data() + s.size()) return d;
  // Out of range: strtod gives the correctly signed infinity or zero.
  std::string copy(s);
  return std::strtod(copy.c_str(), nullptr);
}

template <class Int> std::string int_literal(Int n) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, n);
  return std::string(buf, res.ptr);
}

/// Integer literals are compared as sign and digits: the grammar forbids
/// leading zeros, so equal values have equal digits (with -0 == 0).
bool integers_equal(std::string_view a, std::string_view b) noexcept {
  const bool neg_a = !a.empty() && a.front() == '-';
  const bool neg_b = !b.empty() && b.front() == '-';
  if (neg_a) a.remove_prefix(1);
  if (neg_b) b.remove_prefix(1);
  if (a != b) return false;
  return neg_a == neg_b || a == "0";
}

bool numbers_equal(std::string_view a, std::string_view b) noexcept {
  if (a == b) return true;
  if (literal_is_integer(a) && literal_is_integer(b)) return integers_equal(a, b);
  return literal_to_double(a) == literal_to_double(b);
}

// ---------------------------------------------------------------------------
// Serialization

constexpr std::array<bool, 256> make_plain_table() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = true;
  t['"'] = false;
  t['\\'] = false;
  return t;
}
constexpr std::array<bool, 256> plain_byte = make_plain_table();

std::uint64_t load8(const unsigned char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

/// True when any of the eight bytes is a control character, '"', '\\',
/// DEL or non-ASCII (exact: no false negatives, no false positives).
bool needs_escape(std::uint64_t w) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
  return (below_space | (w & highs) | has_zero(w ^ (ones * '"')) | has_zero(w ^ (ones * '\\')) |
          has_zero(w ^ (ones * 0x7f))) != 0;
}

void append_u16_escape(std::string& out, unsigned unit) {
  static constexpr char hex[] = "0123456789abcdef";
  char buf[6] = {'\\', 'u', hex[(unit >> 12) & 0xf], hex[(unit >> 8) & 0xf],
                 hex[(unit >> 4) & 0xf], hex[unit & 0xf]};
  out.append(buf, sizeof buf);
}

/// Decodes one UTF-8 sequence at p (p < end). Returns its length and sets
/// `cp`, or returns 0 when the bytes are not well-formed UTF-8.
std::size_t decode_utf8(const unsigned char* p, const unsigned char* end, char32_t& cp) noexcept {
  const unsigned char c = p[0];
  const std::size_t avail = static_cast<std::size_t>(end - p);
  auto cont = [](unsigned char b) { return (b & 0xc0) == 0x80; };
  if (c >= 0xc2 && c <= 0xdf) {
    if (avail < 2 || !cont(p[1])) return 0;
    cp = (char32_t(c & 0x1f) << 6) | (p[1] & 0x3f);
    return 2;
  }
  if (c >= 0xe0 && c <= 0xef) {
    if (avail < 3) return 0;
    const unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
    const unsigned char hi = c == 0xed ? 0x9f : 0xbf;
    if (p[1] < lo || p[1] > hi || !cont(p[2])) return 0;
    cp = (char32_t(c & 0x0f) << 12) | (char32_t(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (avail < 4) return 0;
    const unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
    if (p[1] < lo || p[1] > hi || !cont(p[2]) || !cont(p[3])) return 0;
    cp = (char32_t(c & 0x07) << 18) | (char32_t(p[1] & 0x3f) << 12) |
         (char32_t(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
    return 4;
  }
  return 0;
}

void append_escaped_byte(std::string& out, unsigned char c) {
  switch (c) {
  case '"': out.append("\\\"", 2); break;
  case '\\': out.append("\\\\", 2); break;
  case '\n': out.append("\\n", 2); break;
  case '\r': out.append("\\r", 2); break;
  case '\t': out.append("\\t", 2); break;
  case '\b': out.append("\\b", 2); break;
  case '\f': out.append("\\f", 2); break;
  default: append_u16_escape(out, c); break;
  }
}

void serialize_rec(const value& v, std::string& out) {
  switch (v.kind()) {
  case type::null: out.append("null", 4); return;
  case type::boolean:
    if (v.as_bool()) out.append("true", 4);
    else out.append("false", 5);
    return;
  case type::number: out.append(v.as_string()); return;
  case type::string: quote_to(v.as_string(), out); return;
  case type::array: {
    out.push_back('[');
    bool first = true;
    for (const value& e : v.as_array()) {
      if (!first) out.push_back(',');
      first = false;
      serialize_rec(e, out);
    }
    out.push_back(']');
    return;
  }
  case type::object: {
    out.push_back('{');
    bool first = true;
    for (const member& m : v.as_object()) {
      if (!first) out.push_back(',');
      first = false;
      quote_to(m.key, out);
      out.push_back(':');
      serialize_rec(m.val, out);
    }
    out.push_back('}');
    return;
  }
  }
}

// ---------------------------------------------------------------------------
// Equality

bool objects_equal(const object_t& a, const object_t& b) noexcept;

bool values_equal(const value& a, const value& b) noexcept {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
  case type::null: return true;
  case type::boolean: return a.as_bool() == b.as_bool();
  case type::number: return numbers_equal(a.as_string(), b.as_string());
  case type::string: return a.as_string() == b.as_string();
  case type::array: {
    const array_t& x = a.as_array();
    const array_t& y = b.as_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!values_equal(x[i], y[i])) return false;
    return true;
  }
  case type::object: return objects_equal(a.as_object(), b.as_object());
  }
  return false;
}

bool objects_equal(const object_t& a, const object_t& b) noexcept {
  if (a.size() != b.size()) return false;
  // Small objects (the usual case): pairwise lookup, no allocation.
  constexpr std::size_t small = 32;
  if (a.size() <= small) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      const member* found = nullptr;
      // Same order is the common case: try the same position first.
      if (b[i].key == a[i].key) {
        found = &b[i];
      } else {
        for (const member& m : b)
          if (m.key == a[i].key) { found = &m; break; }
      }
      if (!found || !values_equal(a[i].val, found->val)) return false;
    }
    return true;
  }
  // Large objects: compare key-sorted views to stay O(n log n).
  std::vector<const member*> x, y;
  x.reserve(a.size());
  y.reserve(b.size());
  for (const member& m : a) x.push_back(&m);
  for (const member& m : b) y.push_back(&m);
  auto by_key = [](const member* l, const member* r) { return l->key < r->key; };
  std::sort(x.begin(), x.end(), by_key);
  std::sort(y.begin(), y.end(), by_key);
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i]->key != y[i]->key || !values_equal(x[i]->val, y[i]->val)) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Parsing

namespace od = simdjson::ondemand;

// Nesting allowed whatever the caller asks (json::max_depth). The builder
// recurses once per level (up to 330 bytes of stack each, 7.5 KiB under
// AddressSanitizer), and so do copies, comparison and serialization of the
// result (100 to 200 bytes; 0.5 to 2 KiB): within thread_stack_bytes with a
// wide margin. simdjson's own limit (DEFAULT_MAX_DEPTH) is higher.
static_assert(max_depth < simdjson::DEFAULT_MAX_DEPTH);

const char* describe(simdjson::error_code ec) noexcept {
  using simdjson::error_code;
  switch (ec) {
  case error_code::UTF8_ERROR: return "Invalid UTF-8";
  case error_code::UNESCAPED_CHARS: return "Invalid control character in string";
  case error_code::UNCLOSED_STRING: return "Unterminated string";
  case error_code::STRING_ERROR: return "Invalid string escape";
  case error_code::NUMBER_ERROR: return "Invalid number";
  case error_code::DEPTH_ERROR: return "Nesting too deep";
  case error_code::CAPACITY: return "Document too large";
  case error_code::MEMALLOC: return "Out of memory";
  case error_code::EMPTY: return "Expecting value";
  case error_code::INCOMPLETE_ARRAY_OR_OBJECT: return "Unterminated array or object";
  case error_code::T_ATOM_ERROR:
  case error_code::F_ATOM_ERROR:
  case error_code::N_ATOM_ERROR:
  case error_code::INCORRECT_TYPE: return "Expecting value";
  default: return "Invalid JSON";
  }
}

struct key_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

/// Per-thread parsing state, kept between calls: the parser and the padded
/// input copy keep their capacity.
struct parse_context {
  od::parser parser;
  std::string buffer; // input copy followed by SIMDJSON_PADDING bytes
};

parse_context& thread_context() {
  thread_local parse_context ctx;
  return ctx;
}

} // namespace

/// Fills a null value in place, sparing the parser a temporary and a move
/// per node.
struct value_access {
  static void set_string(value& v, std::string_view s) {
    v.type_ = type::string;
    v.text_.assign(s.data(), s.size());
  }
  static void set_number(value& v, std::string_view literal) {
    v.type_ = type::number;
    v.text_.assign(literal.data(), literal.size());
  }
  static void set_bool(value& v, bool b) {
    v.type_ = type::boolean;
    v.bool_ = b;
  }
  static array_t& make_array(value& v) {
    v.array_ = new array_t;
    v.type_ = type::array;
    return *v.array_;
  }
  static object_t& make_object(value& v) {
    v.object_ = new object_t;
    v.type_ = type::object;
    return *v.object_;
  }
};

namespace {

/// Rebuilds the parsed document as a value. Stops at the first error and
/// records its description.
class builder {
public:
  explicit builder(std::size_t max_depth) : max_depth_(max_depth) {}

  /// Fills `out`, which is null on entry. `depth` counts the containers
  /// enclosing `v`.
  bool build(od::value v, value& out, std::size_t depth) {
    od::json_type t;
    if (auto ec = v.type().get(t)) return fail(ec);
    if (t == od::json_type::array) return build_array(v, out, depth + 1);
    if (t == od::json_type::object) return build_object(v, out, depth + 1);
    return build_scalar(v, t, out);
  }

  bool fail(simdjson::error_code ec) { return fail(describe(ec)); }
  bool fail(const char* msg) {
    if (error_.empty()) error_ = msg;
    return false;
  }
  std::string& error() { return error_; }

private:
  /// Containers this close to the root are counted before they are filled,
  /// so their vectors are allocated once at the right size. Counting scans
  /// the container, so deeper levels grow as they go: the extra scanning
  /// stays a small multiple of the input size whatever the nesting.
  static constexpr std::size_t counted_depth = 3;

  // Kept out of line so that the recursion through build() uses small frames.
  [[gnu::noinline]] bool build_scalar(od::value v, od::json_type t, value& out) {
    switch (t) {
    case od::json_type::number: {
      // The raw token runs up to the next structural character, so it may
      // carry trailing whitespace; simdjson does not check the grammar here.
      std::string_view raw = trim_space(v.raw_json_token());
      if (!is_number_literal(raw)) return fail("Invalid number");
      value_access::set_number(out, raw);
      return true;
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto ec = v.get_string().get(s)) return fail(ec);
      value_access::set_string(out, s);
      return true;
    }
    case od::json_type::boolean: {
      bool b = false;
      if (auto ec = v.get_bool().get(b)) return fail(ec);
      value_access::set_bool(out, b);
      return true;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto ec = v.is_null().get(is_null)) return fail(ec);
      if (!is_null) return fail("Expecting value");
      return true;
    }
    default: return fail("Expecting value");
    }
  }

  [[gnu::noinline]] bool build_array(od::value v, value& out, std::size_t depth) {
    if (depth > max_depth_) return fail("Nesting too deep");
    od::array arr;
    if (auto ec = v.get_array().get(arr)) return fail(ec);
    array_t& items = value_access::make_array(out);
    if (depth <= counted_depth) {
      // Counting scans to the container's end: an unclosed one fails here.
      std::size_t n = 0;
      if (auto ec = arr.count_elements().get(n)) return fail(ec);
      items.reserve(n);
    }
    for (auto element : arr) {
      od::value ev;
      if (auto ec = std::move(element).get(ev)) return fail(ec);
      items.emplace_back();
      if (!build(ev, items.back(), depth)) return false;
    }
    return true;
  }

  [[gnu::noinline]] bool build_object(od::value v, value& out, std::size_t depth) {
    if (depth > max_depth_) return fail("Nesting too deep");
    od::object obj;
    if (auto ec = v.get_object().get(obj)) return fail(ec);
    object_t& members = value_access::make_object(out);
    if (depth <= counted_depth) {
      // Counting scans to the container's end: an unclosed one fails here.
      std::size_t n = 0;
      if (auto ec = obj.count_fields().get(n)) return fail(ec);
      members.reserve(n);
    }
    // Duplicate keys keep the first position and the last value, as a
    // Python dict does. Large objects get an index so this stays linear.
    constexpr std::size_t index_threshold = 16;
    std::unordered_map<std::string, std::size_t, key_hash, std::equal_to<>> index;
    for (auto field : obj) {
      std::string_view key;
      if (auto ec = field.unescaped_key().get(key)) return fail(ec);
      od::value fv;
      if (auto ec = field.value().get(fv)) return fail(ec);
      std::size_t slot = members.size();
      if (members.size() <= index_threshold) {
        for (std::size_t i = 0; i < members.size(); ++i) {
          const std::string& k = members[i].key;
          if (k.size() == key.size() && std::memcmp(k.data(), key.data(), key.size()) == 0) {
            slot = i;
            break;
          }
        }
      } else {
        if (index.empty())
          for (std::size_t i = 0; i < members.size(); ++i) index.emplace(members[i].key, i);
        if (auto it = index.find(key); it != index.end()) slot = it->second;
      }
      if (slot == members.size()) {
        members.emplace_back();
        members.back().key.assign(key.data(), key.size());
        if (!index.empty()) index.emplace(members.back().key, slot);
      } else {
        members[slot].val = value();
      }
      if (!build(fv, members[slot].val, depth)) return false;
    }
    return true;
  }

  std::size_t max_depth_;
  std::string error_;
};

/// Parses a document whose root is a string, number or literal. simdjson
/// checks neither the number grammar nor trailing content of root scalars
/// in every case, so the root text is checked here.
bool build_root_scalar(od::document& doc, std::string_view text, value& out, builder& b) {
  if (text.front() == '"') {
    std::string_view s;
    if (auto ec = doc.get_string().get(s)) return b.fail(ec);
    const char* loc = nullptr;
    if (!doc.current_location().get(loc)) return b.fail("Extra data");
    out = value(s);
    return true;
  }
  auto literal = [&](std::string_view word, value v) {
    if (text.substr(0, word.size()) != word) return b.fail("Expecting value");
    if (text.size() != word.size()) return b.fail("Extra data");
    out = std::move(v);
    return true;
  };
  switch (text.front()) {
  case 't': return literal("true", value(true));
  case 'f': return literal("false", value(false));
  case 'n': return literal("null", value());
  default: break;
  }
  const std::size_t len = number_prefix(text);
  if (len == 0) return b.fail(text.front() == '-' || is_digit(text.front()) ? "Invalid number"
                                                                             : "Expecting value");
  if (len != text.size()) return b.fail("Extra data");
  out = value::number(std::string(text));
  return true;
}

} // namespace

// ---------------------------------------------------------------------------
// value

value::value(int n) : type_(type::number), text_(int_literal(n)) {}
value::value(std::int64_t n) : type_(type::number), text_(int_literal(n)) {}
value::value(std::uint64_t n) : type_(type::number), text_(int_literal(n)) {}
value::value(array_t a) : type_(type::array), array_(new array_t(std::move(a))) {}
value::value(object_t o) : type_(type::object), object_(new object_t(std::move(o))) {}

value value::number(std::string literal) {
  value v;
  v.type_ = type::number;
  v.text_ = std::move(literal);
  return v;
}

value::value(const value& other)
    : type_(other.type_), bool_(other.bool_), text_(other.text_) {
  if (other.array_) array_ = new array_t(*other.array_);
  if (other.object_) object_ = new object_t(*other.object_);
}

value::value(value&& other) noexcept
    : type_(other.type_), bool_(other.bool_), text_(std::move(other.text_)),
      array_(other.array_), object_(other.object_) {
  other.type_ = type::null;
  other.array_ = nullptr;
  other.object_ = nullptr;
}

value& value::operator=(const value& other) {
  if (this != &other) {
    value copy(other);
    *this = std::move(copy);
  }
  return *this;
}

value& value::operator=(value&& other) noexcept {
  if (this == &other) return *this;
  // `other` may live inside this value (v = std::move(v.as_array()[0])):
  // take its contents before releasing ours.
  array_t* old_array = array_;
  object_t* old_object = object_;
  type_ = other.type_;
  bool_ = other.bool_;
  text_ = std::move(other.text_);
  array_ = other.array_;
  object_ = other.object_;
  other.type_ = type::null;
  other.array_ = nullptr;
  other.object_ = nullptr;
  delete old_array;
  delete old_object;
  return *this;
}

value::~value() {
  delete array_;
  delete object_;
}

bool value::is_integer() const noexcept {
  return type_ == type::number && literal_is_integer(text_);
}

std::optional<std::int64_t> value::as_int64() const noexcept {
  if (!is_integer()) return std::nullopt;
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), n);
  if (ec != std::errc{} || ptr != text_.data() + text_.size()) return std::nullopt;
  return n;
}

double value::as_double() const noexcept {
  if (type_ != type::number) return 0.0;
  return literal_to_double(text_);
}

const value* value::find(std::string_view key) const noexcept {
  if (type_ != type::object) return nullptr;
  for (const member& m : *object_)
    if (m.key == key) return &m.val;
  return nullptr;
}

value* value::find(std::string_view key) noexcept {
  return const_cast<value*>(static_cast<const value*>(this)->find(key));
}

void value::set(std::string_view key, value v) {
  if (value* existing = find(key)) {
    *existing = std::move(v);
    return;
  }
  object_->push_back(member{std::string(key), std::move(v)});
}

bool value::erase(std::string_view key) {
  auto it = std::find_if(object_->begin(), object_->end(),
                         [&](const member& m) { return m.key == key; });
  if (it == object_->end()) return false;
  object_->erase(it);
  return true;
}

bool operator==(const value& a, const value& b) noexcept { return values_equal(a, b); }

// ---------------------------------------------------------------------------
// Serialization

void quote_to(std::string_view s, std::string& out) {
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  const auto* run = p;
  while (p < end) {
    // Skip eight plain bytes at a time while no byte needs escaping.
    while (end - p >= 8 && !needs_escape(load8(p))) p += 8;
    if (p == end) break;
    const unsigned char c = *p;
    if (plain_byte[c]) {
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    if (c < 0x80) {
      append_escaped_byte(out, c);
      ++p;
    } else {
      char32_t cp = 0;
      std::size_t len = decode_utf8(p, end, cp);
      if (len == 0) {
        // Not UTF-8: never read past it, write U+FFFD for the bad byte.
        cp = 0xfffd;
        len = 1;
      }
      if (cp >= 0x10000) {
        const char32_t u = cp - 0x10000;
        append_u16_escape(out, 0xd800 + static_cast<unsigned>(u >> 10));
        append_u16_escape(out, 0xdc00 + static_cast<unsigned>(u & 0x3ff));
      } else {
        append_u16_escape(out, static_cast<unsigned>(cp));
      }
      p += len;
    }
    run = p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
  out.push_back('"');
}

void serialize_to(const value& v, std::string& out) { serialize_rec(v, out); }

std::string serialize(const value& v) {
  std::string out;
  out.reserve(256);
  serialize_rec(v, out);
  return out;
}

// ---------------------------------------------------------------------------
// Parsing

std::optional<value> parse(std::string_view text, std::string& error, std::size_t max_depth) {
  error.clear();
  const std::string_view trimmed = trim_space(text);
  if (trimmed.empty()) {
    error = "Expecting value";
    return std::nullopt;
  }

  parse_context& ctx = thread_context();
  // simdjson reads up to SIMDJSON_PADDING bytes past the end of the input.
  const std::size_t padded = text.size() + simdjson::SIMDJSON_PADDING;
  if (ctx.buffer.size() < padded) ctx.buffer.resize(padded);
  std::memcpy(ctx.buffer.data(), text.data(), text.size());
  std::memset(ctx.buffer.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);

  builder b(std::min(max_depth, json::max_depth));
  od::document doc;
  if (auto ec = ctx.parser.iterate(ctx.buffer.data(), text.size(), ctx.buffer.size()).get(doc)) {
    // simdjson may report an unclosed string first when a string holds bad
    // UTF-8; the encoding is the more useful thing to say.
    error = simdjson::validate_utf8(text.data(), text.size()) ? describe(ec) : "Invalid UTF-8";
    return std::nullopt;
  }

  value result;
  const char first = trimmed.front();
  if (first == '[' || first == '{') {
    od::value root;
    if (auto ec = doc.get_value().get(root)) {
      error = describe(ec);
      return std::nullopt;
    }
    if (!b.build(root, result, 0)) {
      error = std::move(b.error());
      return std::nullopt;
    }
    // current_location() fails only once the whole input is consumed.
    const char* loc = nullptr;
    if (!doc.current_location().get(loc)) {
      error = "Extra data";
      return std::nullopt;
    }
  } else if (!build_root_scalar(doc, trimmed, result, b)) {
    error = std::move(b.error());
    return std::nullopt;
  }
  return result;
}

} // namespace kinto::json
