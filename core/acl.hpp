// The access control list of one object (auth-permissions.md §3), decoded
// once from the stored JSON object {"read": [...], "write": [...]}: each
// permission name with the principals it lists, in stored order.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kinto::json {
class value;
}

namespace kinto::core {

class acl {
public:
  acl() = default;
  /// Decodes a stored ACL. Absent or malformed text is the empty ACL; names
  /// whose value is not an array, and principals that are not strings, are
  /// skipped (they are never written).
  static acl decode(std::string_view json_object);
  /// The same from an ACL already parsed (a write's target, read once).
  static acl from(const json::value& permissions);

  /// Whether permission `name` lists one of `principals`.
  bool grants(std::string_view name, std::span<const std::string> principals) const;
  /// The principals `name` lists (empty when none).
  std::span<const std::string> principals(std::string_view name) const;
  /// Every (name, principals) entry, in stored order.
  const std::vector<std::pair<std::string, std::vector<std::string>>>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

private:
  std::vector<std::pair<std::string, std::vector<std::string>>> entries_;
};

} // namespace kinto::core
