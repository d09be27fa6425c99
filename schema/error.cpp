// Construction and rendering of Kinto errors. Every error body kintod sends is
// produced by render() here.
#include "schema/error.hpp"

#include <algorithm>

namespace kinto {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

namespace {

error make(int status, errnum code, std::optional<std::string> message) {
  return error{status, code, std::string(reason_phrase(status)), std::move(message), std::nullopt, std::nullopt};
}

} // namespace

error invalid_parameters(std::vector<error_detail> details, int status) {
  // Upstream sorts by name as text, with a missing name sorting as "None".
  auto key = [](const error_detail& d) { return d.name ? *d.name : std::string("None"); };
  std::stable_sort(details.begin(), details.end(),
                   [&](const error_detail& a, const error_detail& b) { return key(a) < key(b); });
  std::string message;
  if (!details.empty()) {
    const auto& first = details.front();
    if (first.name && first.description.find(*first.name) != std::string::npos)
      message = first.description;
    else if (first.name)
      message = *first.name + " in " + first.location + ": " + first.description;
    else
      message = first.location + ": " + first.description;
  }
  json::value list = json::value::array();
  for (auto& d : details) {
    json::value entry = json::value::object();
    entry.set("location", json::value(d.location));
    entry.set("name", d.name ? json::value(*d.name) : json::value());
    entry.set("description", json::value(d.description));
    list.as_array().push_back(std::move(entry));
  }
  error e{status, errnum::invalid_parameters, "Invalid parameters", std::move(message), std::move(list), std::nullopt};
  return e;
}

error invalid_parameter(std::string location, std::optional<std::string> name, std::string description) {
  return invalid_parameters({error_detail{std::move(location), std::move(name), std::move(description)}});
}

namespace {
error missing(errnum code, std::string_view id, std::string_view resource_name) {
  error e = make(404, code, std::nullopt);
  json::value details = json::value::object();
  details.set("id", json::value(id));
  details.set("resource_name", json::value(resource_name));
  e.details = std::move(details);
  return e;
}
} // namespace

error object_not_found(std::string_view id, std::string_view resource_name) {
  return missing(errnum::invalid_resource_id, id, resource_name);
}

error parent_not_found(std::string_view id, std::string_view resource_name) {
  return missing(errnum::missing_resource, id, resource_name);
}

error route_not_found() {
  return make(404, errnum::missing_resource, "The resource you are looking for could not be found.");
}

error version_not_available() {
  return make(404, errnum::version_not_available, "The requested API version is not available on this server.");
}

error precondition_failed(std::optional<json::value> existing) {
  error e = make(412, errnum::modified_meanwhile, "Resource was modified meanwhile");
  if (existing) {
    json::value details = json::value::object();
    details.set("existing", std::move(*existing));
    e.details = std::move(details);
  }
  return e;
}

error unauthorized() {
  return make(401, errnum::missing_auth_token, "Please authenticate yourself to use this endpoint.");
}

error forbidden() { return make(403, errnum::forbidden, "This user cannot access this resource."); }

error method_not_allowed() { return make(405, errnum::method_not_allowed, "Method not allowed on this endpoint."); }

error conflict() { return make(409, errnum::constraint_violated, "Integrity constraint violated, please retry."); }

error backend_unavailable(unavailable cause) {
  error e = make(503, errnum::backend,
                 "Service temporary unavailable due to overloading or maintenance, please retry later.");
  e.cause = cause;
  return e;
}

std::string_view cause_name(unavailable cause) {
  switch (cause) {
    case unavailable::storage: return "storage";
    case unavailable::requests: return "requests";
    case unavailable::connections: return "connections";
    case unavailable::write_queue: return "write_queue";
    case unavailable::password_checks: return "password_checks";
  }
  return "storage";
}

error insufficient_storage() {
  return make(507, errnum::backend, "Insufficient storage: the data store is full.");
}

error request_too_large() { return make(413, errnum::request_too_large, "Request body too large."); }

error internal_error(std::string info_link) {
  error e = make(500, errnum::undefined, "A programmatic error occurred, developers have been informed.");
  e.info = std::move(info_link);
  return e;
}

error bad_request(std::string message) { return make(400, errnum::invalid_parameters, std::move(message)); }

std::string render(const error& e) {
  std::string out;
  out.reserve(128);
  out += "{\"code\":";
  out += std::to_string(e.status);
  out += ",\"errno\":";
  out += std::to_string(static_cast<int>(e.code));
  out += ",\"error\":";
  json::quote_to(e.title, out);
  if (e.message) {
    out += ",\"message\":";
    json::quote_to(*e.message, out);
  }
  if (e.details) {
    out += ",\"details\":";
    json::serialize_to(*e.details, out);
  }
  if (e.info) {
    out += ",\"info\":";
    json::quote_to(*e.info, out);
  }
  out += '}';
  return out;
}

} // namespace kinto
