// Reading plural endpoints: the objects of a list that match a query, in its
// order, one page at a time, and their count. Reads only what it needs: the
// timestamp index between the query's bounds, and a bounded top-k heap when
// the order is not by timestamp. Knows nothing of HTTP or actors.
#pragma once

#include "schema/query.hpp"
#include "storage/engine.hpp"

#include <functional>
#include <string>
#include <vector>

namespace kinto::storage {

/// Decides whether the caller may see an object (permission filtering);
/// empty = every object.
using visibility = std::function<bool(std::string_view id)>;

struct page_request {
  std::size_t limit = 10000;                      ///< page size (> 0)
  std::optional<json::value> after;               ///< last_object of a token: continue after it
  visibility visible;
  bool live_only = false;                         ///< never tombstones (DELETE, counts)
};

struct page {
  /// JSON texts of at most `limit` objects, in order; tombstones as
  /// {"deleted":true,"id":...,"last_modified":...}.
  std::vector<std::string> objects;
  json::value last;  ///< the last object of the page (for the next token)
  bool more = false; ///< another matching object follows
};

/// What a list shows of a change: the object's JSON text, or for a
/// tombstone {"deleted":true,"id":...,"last_modified":...}; and as a value.
std::string change_text(const change& c);
json::value change_value(const change& c);

/// One page of the list for the query.
page read_page(const view& v, const list_key& list, const query::request& q, const page_request& p);

/// Number of live objects matching the query (tokens and limits ignored).
std::size_t count(const view& v, const list_key& list, const query::request& q, const visibility& visible);

} // namespace kinto::storage
