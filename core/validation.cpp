// JSON-Schema validation of records, collections and groups when
// `experimental_collection_schema_validation` is on (batch-and-plugins.md
// §4): the collection's `schema` and the bucket's `record:schema`,
// `collection:schema` and `group:schema`. Compiled schemas are cached by
// object URI and version.
#include "core/validation.hpp"

namespace kinto::core {

std::shared_ptr<const json_schema::compiled> schema_cache::get(const std::string& key, const json::value& schema) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = compiled_.find(key); it != compiled_.end()) return it->second;
  }
  std::string error;
  auto made = json_schema::compiled::compile(schema, error);
  if (!made) return nullptr;
  auto shared = std::make_shared<const json_schema::compiled>(std::move(*made));
  std::lock_guard<std::mutex> lock(mutex_);
  if (compiled_.size() >= 1000) compiled_.clear(); // bounded
  compiled_[key] = shared;
  return shared;
}

namespace {

/// Kinto validates without the fields it manages: last_modified, a record's
/// `schema`, and `id` unless the schema describes it.
json::value without_managed(const json::value& schema, bool record) {
  json::value stripped = schema;
  const json::value* properties = schema.find("properties");
  const bool describes_id = properties && properties->is_object() && properties->find("id");
  std::vector<std::string> managed{"last_modified"};
  if (record) managed.emplace_back("schema");
  if (!describes_id) managed.emplace_back("id");
  if (json::value* required = stripped.find("required"); required && required->is_array()) {
    auto& names = required->as_array();
    std::erase_if(names, [&](const json::value& n) {
      return n.is_string() && std::find(managed.begin(), managed.end(), n.as_string()) != managed.end();
    });
  }
  return stripped;
}

struct schema_use {
  std::shared_ptr<const json_schema::compiled> compiled;
  bool describes_id = false;
  std::optional<std::uint64_t> version; ///< stamped as `schema` on records (collection schemas)
};

std::optional<json::value> data_of(const storage::view& snap, const list_key& list, const std::string& id,
                                   std::uint64_t* last_modified = nullptr) {
  auto obj = snap.get(list, id);
  if (!obj || obj->deleted) return std::nullopt;
  if (last_modified) *last_modified = obj->last_modified;
  std::string err;
  return json::parse(obj->data, err);
}

} // namespace

std::variant<write_validator, error> schema_validator(const rules& r, schema_cache& schemas, const storage::view& snap,
                                                     const list_key& list) {
  if (!r.schema_validation || !(list.of == kind::record || list.of == kind::collection || list.of == kind::group))
    return write_validator{};
  const bool record = list.of == kind::record;
  auto owner = owner_of(list.parent);
  if (!owner) return write_validator{};
  // The bucket, and for records the collection, whose fields hold schemas.
  std::optional<object_ref> bucket = record ? owner_of(owner->list.parent) : owner;
  if (!bucket) return write_validator{};
  std::uint64_t bucket_ts = 0;
  auto bucket_data = data_of(snap, bucket->list, bucket->id, &bucket_ts);
  if (!bucket_data) return parent_not_found(bucket->id, "bucket");

  std::vector<schema_use> uses;
  auto use = [&](const json::value* schema, const std::string& key, std::optional<std::uint64_t> version) {
    if (!schema || !schema->is_object()) return;
    const json::value* properties = schema->find("properties");
    schema_use u;
    u.describes_id = properties && properties->is_object() && properties->find("id");
    u.compiled = schemas.get(key, without_managed(*schema, record));
    u.version = version;
    if (u.compiled) uses.push_back(std::move(u));
  };
  const std::string bucket_uri = bucket->list.object_uri(bucket->id);
  if (record) {
    std::uint64_t collection_ts = 0;
    if (auto collection = data_of(snap, owner->list, owner->id, &collection_ts))
      use(collection->find("schema"), owner->list.object_uri(owner->id) + "#schema@" + std::to_string(collection_ts),
          collection_ts);
    use(bucket_data->find("record:schema"), bucket_uri + "#record:schema@" + std::to_string(bucket_ts), std::nullopt);
  } else {
    const std::string field = list.of == kind::collection ? "collection:schema" : "group:schema";
    use(bucket_data->find(field), bucket_uri + "#" + field + "@" + std::to_string(bucket_ts), std::nullopt);
  }
  if (uses.empty()) return write_validator{};

  return write_validator{[uses = std::move(uses), record](json::value& data) -> std::optional<error> {
    for (const auto& u : uses) {
      json::value instance = data;
      instance.erase("last_modified");
      if (record) instance.erase("schema");
      if (!u.describes_id) instance.erase("id");
      if (auto failure = u.compiled->validate(instance))
        return invalid_parameter("body", failure->name, failure->description);
    }
    for (const auto& u : uses)
      if (u.version) data.set("schema", json::value(*u.version));
    return std::nullopt;
  }};
}

} // namespace kinto::core
