// Kinto's resource vocabulary: kinds of objects, their URIs and parents, id
// rules and permission names. Depends on nothing else in kintod.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kinto {

enum class kind : std::uint8_t { bucket, group, collection, record, account, history };

/// "bucket", "group", "collection", "record", "account".
std::string_view kind_name(kind k);
/// The URL segment of the plural endpoint: "buckets", "groups", ...
std::string_view kind_plural(kind k);

/// Permission names an object of this kind accepts in its `permissions`.
std::span<const std::string_view> permission_names(kind k);
bool is_permission_of(kind k, std::string_view name);

/// Id syntax of resources.md §2.1 (accounts allow + . @ as well).
bool valid_id(kind k, std::string_view id);

/// Where a list of objects lives: the parent URI (empty for buckets and
/// accounts) and the kind of its objects. Lists are independent for
/// timestamps and listing.
struct list_key {
  std::string parent;
  kind of = kind::bucket;

  /// URI of one object of this list: parent + "/" + plural + "/" + id.
  std::string object_uri(std::string_view id) const;
  friend bool operator==(const list_key&, const list_key&) = default;
};

/// The object owning a list, which is the object at that URI: for
/// "/buckets/b/collections/c" the collection `c` of list {"/buckets/b",
/// collection}. Nullopt for top-level lists and URIs of no object.
struct object_ref {
  list_key list;
  std::string id;
};
std::optional<object_ref> owner_of(std::string_view parent_uri);

/// Principals with a fixed meaning.
inline constexpr std::string_view everyone = "system.Everyone";
inline constexpr std::string_view authenticated = "system.Authenticated";

} // namespace kinto
