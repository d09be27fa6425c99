// Request-body and header validation for resource endpoints: the
// {data, permissions} envelope, JSON-Patch bodies and precondition headers.
// Bad input becomes the Kinto 400 error here. Internal to http/.
#pragma once

#include "core/write_rules.hpp"
#include "http/message.hpp"

#include <variant>

namespace kinto::http {

struct envelope {
  std::optional<json::value> data;
  std::optional<json::value> permissions;
};

/// Parses and checks an envelope body for objects of kind `k`. An empty body
/// is `{}`.
std::variant<envelope, error> parse_envelope(std::string_view body, kind k);
/// Parses a JSON-Patch body (an array of operation objects).
std::variant<json::value, error> parse_json_patch(std::string_view body);
/// If-Match / If-None-Match, syntax-checked (concurrency.md §4.1).
std::variant<core::preconditions, error> parse_preconditions(const request& req,
                                                               std::optional<std::uint64_t>* if_none_match_value);

} // namespace kinto::http
