// JSON Schema (draft-07) for Kinto's schema-carrying fields: checks that a
// schema is valid and validates documents against it, wording errors as
// Python's jsonschema does. Depends only on base/json.hpp here; valijson
// and Boost.Regex stay inside json_schema*.cpp and base/'s internal headers.
#pragma once

#include "base/json.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kinto::json_schema {

/// The first reason a document does not satisfy a schema.
struct failure {
  /// Dotted path of the offending value: "title", "tags.0", "" for the root.
  /// For a missing required property it is the object that lacks it.
  std::string field;
  /// jsonschema's wording, e.g. "'title' is a required property",
  /// "-1 is less than the minimum of 0", "42 is not of type 'string'".
  std::string description;
  /// What upstream Kinto puts in `details.name`: the last element of `field`;
  /// at the root, the last element of the failing keyword's value when it is
  /// an array ending with a string (for `required`, the last required name,
  /// not necessarily the missing one) or its last character when it is a
  /// string; otherwise the keyword itself (e.g. "additionalProperties").
  std::string name;
};

/// A schema ready to validate documents. Copies share one immutable compiled
/// form; validate() may run concurrently from any number of threads.
class compiled {
public:
  /// Compiles `schema` (draft-07; `true`/`false` allowed). Fails, setting
  /// `error` to a short description, for anything check_schema() rejects.
  /// `format` is ignored, as upstream does, and so is `id` (not a draft-07
  /// keyword). Never throws.
  [[nodiscard]] static std::optional<compiled> compile(const json::value& schema, std::string& error);

  /// nullopt when `instance` is valid, otherwise the first error found.
  /// Numbers follow jsonschema: 1.0 is an integer, integers of any size are
  /// accepted (compared as doubles beyond 64 bits). Recursion stays bounded
  /// for documents nested up to json::max_depth. If validation
  /// itself breaks (a pattern too expensive to match), the document is
  /// refused with field "", name "schema" and a description saying why.
  /// Precondition: not a moved-from object. Never throws.
  [[nodiscard]] std::optional<failure> validate(const json::value& instance) const;

private:
  struct state;
  /// compile() without the meta-schema check (used to load the meta-schema).
  static std::optional<compiled> build(const json::value& schema, std::string& error);
  explicit compiled(std::shared_ptr<const state> s) : state_(std::move(s)) {}
  std::shared_ptr<const state> state_;
};

/// nullopt when `schema` is a valid draft-07 schema: valid against the
/// draft-07 meta-schema (whatever its `$schema` says), with patterns that
/// compile as ECMAScript regular expressions, every `$ref` resolvable within
/// the schema itself ("#" or "#/pointer"; nothing is fetched), no `$ref` loop
/// that never descends into the document, and bounded nesting (at most 100
/// chained $ref/allOf/anyOf/oneOf/not/if steps, 20 in a schema that refers
/// to itself, 1000 nested subschemas).
/// Otherwise a short description of the first problem, e.g. "'Washmachine'
/// is not valid under any of the given schemas". The caller checks that
/// Kinto wants an object.
[[nodiscard]] std::optional<std::string> check_schema(const json::value& schema);

/// The draft-07 meta-schema (http://json-schema.org/draft-07/schema#) as JSON
/// text; a view of static storage.
std::string_view draft07_metaschema();

} // namespace kinto::json_schema
