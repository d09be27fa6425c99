// Validation of request bodies and precondition headers (resources.md §3,
// concurrency.md §4.1, errors.md §3).
#include "http/body.hpp"

namespace kinto::http {

namespace {

std::variant<json::value, error> parse_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::value::object();
  std::string err;
  auto doc = json::parse(body, err);
  if (!doc) return invalid_parameter("body", "", "Invalid JSON: " + err);
  if (!doc->is_object() && !doc->is_array())
    return invalid_parameter("body", "", "Should be a JSON object or an array");
  return std::move(*doc);
}

std::optional<error> check_permissions(const json::value& perms, kind k) {
  if (!perms.is_object())
    return invalid_parameter("body", "permissions", json::serialize(perms) + " is not a mapping type");
  for (const auto& [name, principals] : perms.as_object()) {
    if (!is_permission_of(k, name)) {
      std::string allowed;
      for (auto p : permission_names(k)) allowed += (allowed.empty() ? "" : ", ") + std::string(p);
      return invalid_parameter("body", "permissions", "\"" + name + "\" is not one of " + allowed);
    }
    if (principals.is_null()) continue;
    if (!principals.is_array())
      return invalid_parameter("body", "permissions." + name, json::serialize(principals) + " is not iterable");
    for (std::size_t i = 0; i < principals.as_array().size(); ++i)
      if (!principals.as_array()[i].is_string())
        return invalid_parameter("body", "permissions." + name + "." + std::to_string(i),
                                 json::serialize(principals.as_array()[i]) + " is not a string");
  }
  return std::nullopt;
}

} // namespace

std::variant<envelope, error> parse_envelope(std::string_view body, kind k) {
  auto parsed = parse_body(body);
  if (auto* e = std::get_if<error>(&parsed)) return std::move(*e);
  json::value doc = std::move(std::get<json::value>(parsed));
  if (!doc.is_object()) return invalid_parameter("body", "", "Should be a JSON object");
  envelope env;
  for (auto& [key, val] : doc.as_object()) {
    if (key == "data") {
      if (!val.is_object()) return invalid_parameter("body", "data", json::serialize(val) + " is not a mapping type");
      env.data = std::move(val);
    } else if (key == "permissions") {
      if (auto e = check_permissions(val, k)) return std::move(*e);
      env.permissions = std::move(val);
    } else {
      return invalid_parameter("body", "", "Unrecognized keys in mapping: '" + key + "'");
    }
  }
  if (env.data) {
    if (const json::value* id = env.data->find("id"); id && !id->is_string())
      return invalid_parameter("path", std::nullopt, "Invalid object id");
  }
  return env;
}

std::variant<json::value, error> parse_json_patch(std::string_view body) {
  auto parsed = parse_body(body);
  if (auto* e = std::get_if<error>(&parsed)) return std::move(*e);
  json::value ops = std::move(std::get<json::value>(parsed));
  if (!ops.is_array()) return invalid_parameter("body", "", "Should be a JSON array of operations");
  for (auto& op : ops.as_array()) {
    if (!op.is_object()) return invalid_parameter("body", "", "Each JSON Patch operation should be an object");
    const json::value* path = op.find("path");
    if (!path || !path->is_string()) return invalid_parameter("body", "path", "path is required");
    // Grants and revocations need no value: it is the principal itself.
    // A copy: setting the value may reallocate the members `path` is in.
    const std::string p = path->as_string();
    for (std::string_view prefix : {"/permissions/read/", "/permissions/write/"}) {
      if (p.rfind(prefix, 0) == 0 && p.size() > prefix.size()) {
        const json::value* kind_of = op.find("op");
        if (kind_of && kind_of->is_string() && (kind_of->as_string() == "add" || kind_of->as_string() == "replace" || kind_of->as_string() == "test"))
          op.set("value", json::value(p.substr(p.rfind('/') + 1)));
      }
    }
  }
  return ops;
}

namespace {

std::variant<std::optional<std::uint64_t>, error> parse_etag(std::string_view value, const char* header, bool& any) {
  any = false;
  if (value == "*") {
    any = true;
    return std::optional<std::uint64_t>{};
  }
  auto bad = [&] {
    return invalid_parameter("header", header, "The value should be integer between double quotes.");
  };
  if (value.size() < 3 || value.front() != '"' || value.back() != '"') return bad();
  std::string_view digits = value.substr(1, value.size() - 2);
  std::uint64_t n = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return bad();
    if (n > (UINT64_MAX - 9) / 10) return bad();
    n = n * 10 + static_cast<std::uint64_t>(ch - '0');
  }
  return std::optional<std::uint64_t>{n};
}

} // namespace

std::variant<core::preconditions, error> parse_preconditions(const request& req,
                                                               std::optional<std::uint64_t>* if_none_match_value) {
  core::preconditions pre;
  if (auto v = req.header("if-match")) {
    bool any = false;
    auto r = parse_etag(*v, "If-Match", any);
    if (auto* e = std::get_if<error>(&r)) return std::move(*e);
    pre.if_match = std::get<std::optional<std::uint64_t>>(r);
    pre.if_match_any = any;
  }
  if (auto v = req.header("if-none-match")) {
    bool any = false;
    auto r = parse_etag(*v, "If-None-Match", any);
    if (auto* e = std::get_if<error>(&r)) return std::move(*e);
    pre.if_none_match_any = any;
    if (if_none_match_value) *if_none_match_value = std::get<std::optional<std::uint64_t>>(r);
  }
  return pre;
}

} // namespace kinto::http
