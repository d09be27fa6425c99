// The route table: every endpoint kintod serves, as data. Routing matches
// paths against it and GET /__api__ describes it, so the two cannot drift.
// Internal to http/.
#pragma once

#include "http/call.hpp"

#include <optional>
#include <string_view>
#include <vector>

namespace kinto::http {

/// One endpoint: adding one is adding a row. Path parameters named
/// `bucket_id`, `collection_id` and `id` locate the object or list,
/// `principal` and `snapshot` become the route's id.
struct route_spec {
  std::string_view pattern;          ///< e.g. "/buckets/{bucket_id}/collections/{id}"; "{x+}" takes the rest
  endpoint_handler handle;           ///< what serves it
  endpoint ep;                       ///< how routing treats it
  std::optional<kind> of;            ///< objects of plural and object endpoints
  std::vector<std::string> methods;  ///< without OPTIONS
  bool (*enabled)(const config&);    ///< settings that turn the route on
  bool needs_principals;             ///< resolve the caller's principals before the handler
  std::string_view tag;              ///< OpenAPI tag
  std::string_view summary;          ///< OpenAPI summary
};

/// Every route, in matching order.
const std::vector<route_spec>& route_table();
/// The route's name in metrics, as upstream names its services
/// ("record-object", "heartbeat", "batch").
std::string_view route_name(const route_spec& spec);

/// False when a `<type>_<resource>_<method>_enabled = false` setting turns
/// the method off on that endpoint (service-endpoints.md §8).
bool method_enabled(const config& cfg, endpoint ep, std::optional<kind> of, std::string_view method);

/// The route of a decoded path (without /v1), if an enabled one matches.
std::optional<route> match(const config& cfg, std::string_view path);

/// Percent-decodes `in` into `out` as routing decodes request targets
/// (`plus_is_space` for query strings). False on a malformed escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

} // namespace kinto::http
