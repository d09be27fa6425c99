// The one error type of kintod: HTTP status, Kinto errno, message and details,
// rendered once into Kinto's JSON error body. Depends only on json.hpp.
#pragma once

#include "base/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kinto {

/// Kinto's errno values (errors.md §2).
enum class errnum : int {
  missing_auth_token = 104,
  invalid_parameters = 107,
  invalid_resource_id = 110,
  missing_resource = 111,
  request_too_large = 113,
  modified_meanwhile = 114,
  method_not_allowed = 115,
  version_not_available = 116,
  client_reached_capacity = 117,
  forbidden = 121,
  constraint_violated = 122,
  backend = 201,
  service_deprecated = 202,
  undefined = 999,
};

/// One entry of a validation error's `details` list.
struct error_detail {
  std::string location;               ///< body, querystring, header, path
  std::optional<std::string> name;    ///< dotted field path; nullopt renders as null
  std::string description;
};

/// What a 503 ran out of, for the metrics (503s by cause).
enum class unavailable : std::uint8_t {
  storage,         ///< the store could not read or commit (a database down, a failed snapshot)
  requests,        ///< max_requests_in_flight reached
  connections,     ///< max_connections reached
  write_queue,     ///< a list's queue of writes is full
  password_checks, ///< the queue of password checks is full
};
/// The cause as a metric label: "storage", "requests"...
std::string_view cause_name(unavailable cause);

struct error {
  int status = 500;
  errnum code = errnum::undefined;
  std::string title;                  ///< the `error` member
  std::optional<std::string> message; ///< omitted from the body when empty
  std::optional<json::value> details; ///< a list (validation) or an object (404, 412)
  std::optional<std::string> info;    ///< only on 500
  unavailable cause = unavailable::storage; ///< only on 503
};

/// Reason phrase of an HTTP status ("Not Found").
std::string_view reason_phrase(int status);

/// 400 errno 107 from validation details, sorted and summarised as upstream does.
error invalid_parameters(std::vector<error_detail> details, int status = 400);
error invalid_parameter(std::string location, std::optional<std::string> name, std::string description);
/// 404 errno 110: the object does not exist.
error object_not_found(std::string_view id, std::string_view resource_name);
/// 404 errno 111: a parent (collection, bucket) does not exist.
error parent_not_found(std::string_view id, std::string_view resource_name);
/// 404 errno 111: no route.
error route_not_found();
/// 404 errno 116.
error version_not_available();
/// 412 errno 114; `existing` is the stored object's data, when there is one.
error precondition_failed(std::optional<json::value> existing);
error unauthorized();
error forbidden();
error method_not_allowed();
error conflict();
error backend_unavailable(unavailable cause = unavailable::storage);
error insufficient_storage();
error request_too_large();
error internal_error(std::string info_link);
error bad_request(std::string message); ///< "Bad Request" without details (bad UTF-8 in URL)

/// The JSON body `{"code","errno","error","message","details","info"}`.
std::string render(const error& e);

} // namespace kinto
