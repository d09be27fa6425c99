// Permission checks: a requirement is met by a setting listing one of the
// caller's principals, or by an ACE of the object or an ancestor naming one.
#include "http/authorization.hpp"

#include "schema/json.hpp"

#include <algorithm>

namespace kinto::http {

namespace {

bool held(const identity& who, const std::vector<std::string>& principals) { return who.holds_any(principals); }

} // namespace

bool listed(const identity& who, const json::value& perms, std::string_view name) {
  const json::value* list = perms.find(name);
  if (!list || !list->is_array()) return false;
  for (const auto& p : list->as_array())
    if (p.is_string() && std::find(who.principals.begin(), who.principals.end(), p.as_string()) != who.principals.end())
      return true;
  return false;
}

bool satisfies(const call& c, const storage::view& v, const permissions::requirement& r) {
  for (const auto& setting : r.settings)
    if (held(c.who, c.cfg().principals_of(setting))) return true;
  // One lookup per distinct URI; entries come grouped by URI.
  std::string_view current;
  json::value perms;
  for (const auto& e : r.entries) {
    if (e.uri != current) {
      current = e.uri;
      perms = json::value::object();
      if (auto text = v.permissions(e.uri)) {
        std::string err;
        if (auto parsed = json::parse(*text, err)) perms = std::move(*parsed);
      }
    }
    if (listed(c.who, perms, e.name)) return true;
  }
  return false;
}

bool may(const call& c, const storage::view& v, const list_key& list, std::string_view id, permissions::action a) {
  return satisfies(c, v, permissions::required(list, id, a));
}

error denied(const call& c) { return c.who.authenticated() ? forbidden() : unauthorized(); }

bool holds_on_some(const call& c, const storage::view& v, const list_key& list,
                   const std::vector<std::string_view>& names) {
  const std::string prefix = list.object_uri("");
  bool found = false;
  for (const auto& principal : c.who.principals) {
    v.walk_grants(principal, prefix, [&](std::string_view uri, std::string_view name) {
      // Only objects of this list, not deeper ones.
      if (uri.find('/', prefix.size()) != std::string_view::npos) return true;
      found = std::find(names.begin(), names.end(), name) != names.end();
      return !found;
    });
    if (found) return true;
  }
  return false;
}

storage::visibility holding(const call_ptr& c, const storage::view& v, const list_key& list,
                            std::vector<std::string_view> names) {
  const storage::view* snapshot = &v;
  return [c, snapshot, list, names = std::move(names)](std::string_view id) {
    auto text = snapshot->permissions(list.object_uri(id));
    if (!text) return false;
    std::string err;
    auto perms = json::parse(*text, err);
    if (!perms) return false;
    return std::any_of(names.begin(), names.end(), [&](std::string_view name) { return listed(c->who, *perms, name); });
  };
}

} // namespace kinto::http
