// Kinto's resource vocabulary: names, id rules and permission names per kind.
#include "schema/resource.hpp"

#include <algorithm>
#include <array>

namespace kinto {

std::string_view kind_name(kind k) {
  switch (k) {
    case kind::bucket: return "bucket";
    case kind::group: return "group";
    case kind::collection: return "collection";
    case kind::record: return "record";
    case kind::account: return "account";
    case kind::history: return "history";
  }
  return "";
}

std::string_view kind_plural(kind k) {
  switch (k) {
    case kind::bucket: return "buckets";
    case kind::group: return "groups";
    case kind::collection: return "collections";
    case kind::record: return "records";
    case kind::account: return "accounts";
    case kind::history: return "history";
  }
  return "";
}

namespace {
constexpr std::array<std::string_view, 4> bucket_permissions{"read", "write", "collection:create", "group:create"};
constexpr std::array<std::string_view, 3> collection_permissions{"read", "write", "record:create"};
constexpr std::array<std::string_view, 2> leaf_permissions{"read", "write"};

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
} // namespace

std::span<const std::string_view> permission_names(kind k) {
  switch (k) {
    case kind::bucket: return bucket_permissions;
    case kind::collection: return collection_permissions;
    default: return leaf_permissions;
  }
}

bool is_permission_of(kind k, std::string_view name) {
  auto names = permission_names(k);
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool valid_id(kind k, std::string_view id) {
  if (id.empty() || !is_alnum(id.front())) return false;
  const bool account = k == kind::account;
  return std::all_of(id.begin() + 1, id.end(), [account](char c) {
    return is_alnum(c) || c == '_' || c == '-' || (account && (c == '+' || c == '.' || c == '@'));
  });
}

std::string list_key::object_uri(std::string_view id) const {
  std::string uri;
  uri.reserve(parent.size() + 16 + id.size());
  uri += parent;
  uri += '/';
  uri += kind_plural(of);
  uri += '/';
  uri += id;
  return uri;
}

std::optional<object_ref> owner_of(std::string_view parent_uri) {
  const auto id_slash = parent_uri.rfind('/');
  if (parent_uri.empty() || id_slash == std::string_view::npos || id_slash == 0) return std::nullopt;
  const auto plural_slash = parent_uri.rfind('/', id_slash - 1);
  if (plural_slash == std::string_view::npos) return std::nullopt;
  const std::string_view plural = parent_uri.substr(plural_slash + 1, id_slash - plural_slash - 1);
  for (kind k : {kind::bucket, kind::group, kind::collection, kind::record, kind::account, kind::history}) {
    if (kind_plural(k) == plural)
      return object_ref{list_key{std::string(parent_uri.substr(0, plural_slash)), k},
                        std::string(parent_uri.substr(id_slash + 1))};
  }
  return std::nullopt;
}

} // namespace kinto
