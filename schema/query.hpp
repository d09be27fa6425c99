// Kinto's query language for plural endpoints (querying.md): typing of
// query-string values, filters and their evaluation on JSON objects, sort
// keys and the order across JSON types, pagination tokens, and `_fields`
// projections. Pure functions over the JSON model; depends only on schema/.
#pragma once

#include "schema/error.hpp"
#include "base/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kinto::query {

enum class op : std::uint8_t { eq, not_, lt, gt, min, max, in, exclude, like, has, contains, contains_any };

/// A dotted field path split at dots: "party.voters" -> {"party", "voters"}.
using field_path = std::vector<std::string>;

struct filter {
  op operation = op::eq;
  std::string param;     ///< the query parameter name as sent (for error messages)
  std::string field;     ///< dotted field name
  field_path path;       ///< field split at dots
  json::value value;     ///< typed value (an array for in/exclude/contains/contains_any)
  /// Evaluation aids derived from the members above by prepare() (parse()
  /// calls it). A filter built by hand and left unprepared evaluates the
  /// same, only slower; prepare again after changing `value` or `operation`.
  std::string like_pattern = {};             ///< like_: case-folded pattern, always containing `*`
  std::vector<std::uint32_t> sorted = {};    ///< in_/exclude_: element indexes in compare() order
};

/// Fills a filter's evaluation aids (and `path` from `field` when empty).
void prepare(filter& f);

struct sort_key {
  std::string field;
  field_path path;
  bool descending = false;
};

/// Which fields of an object a list accepts in filters and sorts: every field
/// (buckets, collections, groups, records, accounts), or only the given root
/// fields (history, permissions): others give 400 "Unknown filter field".
/// `id`, `last_modified` and `deleted` are always known.
struct field_policy {
  bool any = true;
  std::vector<std::string> known_roots;
};

/// The parsed query of a plural request.
struct request {
  std::vector<filter> filters;      ///< includes filters derived from _since/_before/_to
  std::vector<sort_key> sort;       ///< always ends with last_modified (ascending or descending)
  std::optional<std::int64_t> limit; ///< `_limit` (>= 0) when given
  std::optional<std::string> token;  ///< raw `_token` when given and non-empty
  std::optional<std::vector<std::string>> fields; ///< `_fields`
  std::optional<std::uint64_t> since;  ///< `_since` (strict lower bound on last_modified)
  std::optional<std::uint64_t> before; ///< `_before` or `_to` (strict upper bound)
  bool deprecated_to = false;          ///< `_to` was used (the Alert header)
  /// True when any filter concerns last_modified (then tombstones are eligible).
  bool includes_tombstones() const;
};

/// Parses the decoded query parameters (name, value pairs in order) of a
/// plural request. `now_ms` bounds timestamps (< now + 24 h). Unknown `_xyz`
/// parameters are ignored. On bad input returns the Kinto 400 error.
std::variant<request, error> parse(const std::vector<std::pair<std::string, std::string>>& params,
                                   std::uint64_t now_ms, const field_policy& policy = {});

/// Types one query-string value (querying.md §2): JSON when it parses, else
/// the string itself.
json::value typed_value(std::string_view raw);

/// The value at `path` in `object`, or nullptr when absent (including a path
/// through a non-object).
const json::value* lookup(const json::value& object, const field_path& path);

/// Total order across JSON values (querying.md §3.2): null < string < number
/// < boolean < array < object; `nullptr` (absent) is greater than anything.
/// Returns <0, 0, >0.
int compare(const json::value* a, const json::value* b);

/// True when `object` (a record, or a tombstone {id, last_modified, deleted})
/// passes the filter.
bool matches(const filter& f, const json::value& object);
bool matches_all(const std::vector<filter>& filters, const json::value& object);

/// Orders two objects by the sort keys: <0 when `a` comes first.
int compare_by(const std::vector<sort_key>& keys, const json::value& a, const json::value& b);

/// The pagination token (querying.md §4.3): standard base64 of
/// {"last_object": {...}, "offset": n, "nonce": "pagination-token-<uuid4>"}.
struct token {
  json::value last_object = json::value::object(); ///< sort field -> value of the last object
  std::int64_t offset = 0;
  std::string nonce;
};
std::string encode_token(const token& t);
/// Decodes a token; 400 "_token has invalid content" when malformed.
std::variant<token, error> decode_token(std::string_view raw);
/// The token continuing after `last` (values of the sort fields it has).
token token_after(const std::vector<sort_key>& keys, const json::value& last, std::int64_t offset);
/// True when `object` comes strictly after the token's last object in the
/// order of `keys` (the condition of querying.md §4.3).
bool after_token(const std::vector<sort_key>& keys, const json::value& last_object, const json::value& object);

/// `_fields` projection: keeps the listed (dotted) fields plus id and
/// last_modified, keeping nesting; a path through a non-object keeps that
/// value whole.
json::value project(const json::value& object, const std::vector<std::string>& fields);

} // namespace kinto::query
