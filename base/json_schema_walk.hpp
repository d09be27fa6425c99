// Internal to base/: helpers that walk a JSON Schema document, shared by
// compilation and error wording. Depends on base/json*.hpp only; never
// include it outside base/.
#pragma once

#include "base/json.hpp"
#include "base/json_patch.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>

namespace kinto::json_schema {

// ---------------------------------------------------------------------------
// Walking a schema document.

template <typename Keys> bool one_of(std::string_view key, const Keys& keys) {
  return std::find(std::begin(keys), std::end(keys), key) != std::end(keys);
}
inline bool one_of(std::string_view key, std::initializer_list<std::string_view> keys) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
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

} // namespace kinto::json_schema
