// A small mutable JSON document model, parsed with simdjson and written back
// the way upstream Kinto writes JSON. Numbers keep their literal text so that
// integers of any size round-trip exactly. Depends on nothing else in kintod.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kinto::json {

enum class type : std::uint8_t { null, boolean, number, string, array, object };

class value;
struct member;
using array_t = std::vector<value>;
/// Objects keep insertion order, as Python dicts do; keys are unique.
using object_t = std::vector<member>;

class value {
public:
  value() noexcept = default; ///< null
  value(std::nullptr_t) noexcept {}
  value(bool b) noexcept : type_(type::boolean), bool_(b) {}
  value(int n);
  value(std::int64_t n);
  value(std::uint64_t n);
  value(std::string s) : type_(type::string), text_(std::move(s)) {}
  value(std::string_view s) : type_(type::string), text_(s) {}
  value(const char* s) : type_(type::string), text_(s) {}
  value(array_t a);
  value(object_t o);

  /// A number from its JSON literal; the caller guarantees `literal` is a
  /// valid JSON number (as produced by the parser).
  static value number(std::string literal);
  static value array();
  static value object(); ///< defined below, where `member` is complete

  type kind() const noexcept { return type_; }
  bool is_null() const noexcept { return type_ == type::null; }
  bool is_bool() const noexcept { return type_ == type::boolean; }
  bool is_number() const noexcept { return type_ == type::number; }
  bool is_string() const noexcept { return type_ == type::string; }
  bool is_array() const noexcept { return type_ == type::array; }
  bool is_object() const noexcept { return type_ == type::object; }
  /// True for a number literal without fraction or exponent.
  bool is_integer() const noexcept;

  bool as_bool() const noexcept { return bool_; }
  /// The string of a string value, or the literal of a number.
  const std::string& as_string() const noexcept { return text_; }
  std::string& as_string() noexcept { return text_; }
  /// The integer value when this is an integer literal that fits in 64 bits.
  std::optional<std::int64_t> as_int64() const noexcept;
  /// Any number as a double (big integers lose precision).
  double as_double() const noexcept;

  /// Precondition: is_array() / is_object().
  const array_t& as_array() const noexcept { return *array_; }
  array_t& as_array() noexcept { return *array_; }
  const object_t& as_object() const noexcept { return *object_; }
  object_t& as_object() noexcept { return *object_; }

  /// Object member lookup; nullptr when absent or when this is not an object.
  const value* find(std::string_view key) const noexcept;
  value* find(std::string_view key) noexcept;
  /// Replaces the member in place, or appends it. Precondition: is_object().
  void set(std::string_view key, value v);
  /// Removes the member; false when absent. Precondition: is_object().
  bool erase(std::string_view key);

  /// Deep JSON equality: numbers compare by value (1 == 1.0), objects ignore
  /// member order.
  friend bool operator==(const value& a, const value& b) noexcept;
  friend bool operator!=(const value& a, const value& b) noexcept { return !(a == b); }

  value(const value& other);
  value(value&& other) noexcept;
  value& operator=(const value& other);
  value& operator=(value&& other) noexcept;
  ~value();

private:
  friend struct value_access; // lets the parser in json.cpp fill values in place

  type type_ = type::null;
  bool bool_ = false;
  std::string text_;                  // string contents or number literal
  array_t* array_ = nullptr;          // owned when type_ == array
  object_t* object_ = nullptr;        // owned when type_ == object
};

struct member {
  std::string key;
  value val;
};

inline value value::array() { return value(array_t{}); }
inline value value::object() { return value(object_t{}); }

/// Compact serialization as upstream does it: no spaces, non-ASCII escaped as
/// \uXXXX (surrogate pairs above the BMP), '/' not escaped.
std::string serialize(const value& v);
void serialize_to(const value& v, std::string& out);
/// A JSON string literal (with quotes) for `s`, escaped as serialize() does.
void quote_to(std::string_view s, std::string& out);

/// Nesting limit of request bodies (the outermost container is level 1):
/// the default and the maximum of the `max_json_depth` setting. Python's
/// json, upstream, stops near 1,000 levels.
inline constexpr std::size_t default_max_depth = 512;

/// The deepest document parse() accepts, and its default: a little deeper
/// than a body, for what kintod stores around a body's data (a history
/// entry holds the data two levels down, a batch response a body three).
inline constexpr std::size_t max_depth = default_max_depth + 8;

/// Stack every thread that handles JSON gets (kintod sets it for all its
/// threads, http/main.cpp): documents nested max_depth deep go through every
/// recursive operation kintod runs on them (parsing, copies, comparisons,
/// merge-patch and JSON-Patch, JSON-Schema validation within the bounds of
/// json_schema.hpp, serialization) in a quarter of it, a test checks. The
/// deepest measured, a recursive schema at its bound: 1.4 MiB in a Release
/// build, 9.2 MiB under AddressSanitizer, which uses up to ten times more
/// stack, hence four times as much there. Address space only: pages are
/// used as a stack grows.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr std::size_t thread_stack_bytes = std::size_t(64) << 20;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr std::size_t thread_stack_bytes = std::size_t(64) << 20;
#else
inline constexpr std::size_t thread_stack_bytes = std::size_t(16) << 20;
#endif
#else
inline constexpr std::size_t thread_stack_bytes = std::size_t(16) << 20;
#endif

/// Parses one UTF-8 JSON text. Rejects invalid JSON or UTF-8, trailing
/// content and nesting deeper than `max_depth` (capped at json::max_depth);
/// on failure returns nullopt and sets `error` to a short description.
/// Duplicate keys: the last wins.
[[nodiscard]] std::optional<value> parse(std::string_view text, std::string& error,
                                         std::size_t max_depth = json::max_depth);

} // namespace kinto::json
