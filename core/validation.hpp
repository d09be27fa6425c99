// JSON-Schema validation of writes (batch-and-plugins.md §4), when
// `experimental_collection_schema_validation` is on: records against their
// collection's `schema` and their bucket's `record:schema`, collections and
// groups against their bucket's `collection:schema` and `group:schema`.
#pragma once

#include "core/rules.hpp"
#include "schema/error.hpp"
#include "base/json.hpp"
#include "base/json_schema.hpp"
#include "storage/engine.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

namespace kinto::core {

/// Compiled schemas by object URI, field and version, shared by every
/// request (bounded; thread-safe).
class schema_cache {
public:
  /// The compiled form of `schema` known as `key`; null when it does not compile.
  std::shared_ptr<const json_schema::compiled> get(const std::string& key, const json::value& schema);

private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const json_schema::compiled>> compiled_;
};

/// Validates (and may complete) the final data of a write; see
/// actors::write_command::validate.
using write_validator = std::function<std::optional<error>(json::value& data)>;

/// The validator of writes to `list` as `v` holds its schemas (empty when
/// validation is off or no schema applies); 404 when the bucket is missing.
std::variant<write_validator, error> schema_validator(const rules& r, schema_cache& schemas, const storage::view& v,
                                                     const list_key& list);

} // namespace kinto::core
