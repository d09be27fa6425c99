// Kinto's permission rules (auth-permissions.md §3–§6): which access control
// entries, on an object and its ancestors, grant an action, and which
// settings grant it everywhere. Pure data; depends only on resource.hpp.
#pragma once

#include "schema/resource.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kinto::permissions {

enum class action : std::uint8_t {
  read,       ///< read one object
  write,      ///< modify or delete one object
  create,     ///< create an object in a list
  read_all,   ///< list every object of a list
  write_all,  ///< delete every object of a list
};

/// One access control entry that grants a check: permission `name` on `uri`.
struct entry {
  std::string uri;
  std::string name;
};

/// What satisfies a check: any of the caller's principals in any entry, or
/// in any of the settings (`<type>_<perm>_principals`).
struct requirement {
  std::vector<entry> entries;
  std::vector<std::string> settings;
};

/// The requirement of `a` on the object `id` of `list` (read, write), or on
/// the list itself (create, read_all, write_all; `id` ignored).
requirement required(const list_key& list, std::string_view id, action a);

/// Permission names on an object that let a caller see it in a list
/// (§6 step 2): records/groups read+write, collections add record:create,
/// buckets add collection:create and group:create.
std::vector<std::string_view> listing_names(kind k);

/// Permission names implied by `name` on an object of kind `k` (the
/// /permissions endpoint: bucket write -> write, read, read:attributes,
/// collection:create, group:create...).
std::vector<std::string> implied(kind k, std::string_view name);

} // namespace kinto::permissions
