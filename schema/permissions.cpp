// The inheritance table of auth-permissions.md §4.1 as code, and the
// permission names used for listing and for the /permissions endpoint.
#include "schema/permissions.hpp"

#include <algorithm>

namespace kinto::permissions {

namespace {

/// "/buckets/b" from "/buckets/b" or "/buckets/b/collections/c".
std::string bucket_of(std::string_view parent) {
  const auto second = parent.find('/', std::string_view("/buckets/").size());
  return std::string(parent.substr(0, second));
}

void add(requirement& r, const std::string& uri, std::initializer_list<std::string_view> names) {
  for (auto name : names) r.entries.push_back(entry{uri, std::string(name)});
}

void add_settings(requirement& r, kind k) {
  const std::string type(kind_name(k));
  const std::string create = type + ":create";
  for (const auto& e : r.entries) {
    std::string setting = e.name == create ? type + "_create_principals" : type + "_" + e.name + "_principals";
    if (std::find(r.settings.begin(), r.settings.end(), setting) == r.settings.end()) r.settings.push_back(setting);
  }
}

} // namespace

requirement required(const list_key& list, std::string_view id, action a) {
  requirement r;
  const kind k = list.of;
  if (k == kind::bucket || k == kind::account) {
    const std::string type(kind_name(k));
    const std::string uri = list.object_uri(id);
    switch (a) {
      case action::read:
        if (k == kind::bucket) add(r, uri, {"write", "read", "collection:create", "group:create"});
        else add(r, uri, {"write", "read"});
        break;
      case action::write: add(r, uri, {"write"}); break;
      case action::create: r.settings.push_back(type + "_create_principals"); return r;
      case action::read_all: r.settings.push_back(type + "_read_principals"); return r;
      case action::write_all: r.settings.push_back(type + "_write_principals"); return r;
    }
    add_settings(r, k);
    return r;
  }

  const std::string bucket = bucket_of(list.parent);
  const std::string object = list.object_uri(id);
  switch (k) {
    case kind::group:
    case kind::collection: {
      const bool groups = k == kind::group;
      switch (a) {
        case action::read:
          add(r, bucket, {"write", "read"});
          if (groups) add(r, object, {"write", "read"});
          else add(r, object, {"write", "read", "record:create"});
          break;
        case action::write: add(r, bucket, {"write"}); add(r, object, {"write"}); break;
        case action::create: add(r, bucket, {"write", groups ? "group:create" : "collection:create"}); break;
        case action::read_all: add(r, bucket, {"write", "read"}); break;
        case action::write_all: add(r, bucket, {"write"}); break;
      }
      break;
    }
    case kind::history: {
      // A bucket's history: listed whole by the bucket's readers and writers,
      // purged by its writers; others see the entries shared with them.
      switch (a) {
        case action::read_all: add(r, bucket, {"write", "read"}); break;
        case action::write_all: add(r, bucket, {"write"}); break;
        default: add(r, object, {"read"}); break;
      }
      break;
    }
    case kind::record: {
      const std::string& collection = list.parent;
      switch (a) {
        case action::read:
          add(r, bucket, {"write", "read"});
          add(r, collection, {"write", "read"});
          add(r, object, {"write", "read"});
          break;
        case action::write:
          add(r, bucket, {"write"});
          add(r, collection, {"write"});
          add(r, object, {"write"});
          break;
        case action::create: add(r, bucket, {"write"}); add(r, collection, {"write", "record:create"}); break;
        case action::read_all: add(r, bucket, {"write", "read"}); add(r, collection, {"write", "read"}); break;
        case action::write_all: add(r, bucket, {"write"}); add(r, collection, {"write"}); break;
      }
      break;
    }
    default: break;
  }
  add_settings(r, k);
  return r;
}

std::vector<std::string_view> listing_names(kind k) {
  switch (k) {
    case kind::bucket: return {"read", "write", "collection:create", "group:create"};
    case kind::collection: return {"read", "write", "record:create"};
    case kind::history: return {"read"};
    default: return {"read", "write"};
  }
}

std::vector<std::string> implied(kind k, std::string_view name) {
  if (k == kind::bucket) {
    if (name == "write") return {"write", "read", "read:attributes", "collection:create", "group:create"};
    if (name == "read") return {"read", "read:attributes"};
    if (name == "collection:create" || name == "group:create") return {std::string(name), "read:attributes"};
  }
  if (k == kind::collection) {
    if (name == "write") return {"write", "read", "read:attributes", "record:create"};
    if (name == "read") return {"read", "read:attributes"};
    if (name == "record:create") return {"record:create", "read:attributes"};
  }
  if (name == "write") return {"write", "read"};
  return {std::string(name)};
}

} // namespace kinto::permissions
