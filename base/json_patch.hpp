// Patch formats accepted by Kinto's PATCH: RFC 7396 merge-patch and RFC 6902
// JSON-Patch, applied to the JSON document model. Depends only on json.hpp.
#pragma once

#include "base/json.hpp"

#include <optional>
#include <string>

namespace kinto::json {

/// RFC 7396: merges `patch` into `target` in place. Members set to null are
/// removed (at any depth); objects merge recursively; anything else replaces.
void merge_patch(value& target, const value& patch);

/// RFC 6902: applies the operations of `patch` (an array) to `doc`, in order.
/// The document is left unchanged when any operation fails; the returned
/// string then says why (e.g. "test failed", "path '/a/b' not found").
/// Operations are objects with `op` in test/add/remove/replace/move/copy,
/// a `path` (and `from`) JSON pointer starting with '/', and `value` where the
/// operation needs one; any other member is an error. The patch also fails
/// when it would nest the document deeper than `default_max_depth`
/// containers, or place (add, replace, copy, move) more values than the
/// document and the patch hold together, plus 100000.
[[nodiscard]] std::optional<std::string> apply_json_patch(value& doc, const value& patch);

/// Decodes one RFC 6901 reference token ("~1" -> "/", "~0" -> "~").
std::string unescape_pointer_token(std::string_view token);

} // namespace kinto::json
