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

namespace {

bool own_target(const call& c, const list_key& list, std::string_view id, permissions::action a) {
  if (!(list == c.r.list)) return false;
  const bool on_list = a == permissions::action::create || a == permissions::action::read_all ||
                       a == permissions::action::write_all;
  return on_list || id == c.r.id;
}

bool settings_grant(const call& c, const permissions::requirement& r) {
  for (const auto& setting : r.settings)
    if (held(c.who, c.cfg().principals_of(setting))) return true;
  return false;
}

} // namespace

bool may(const call& c, const storage::view& v, const list_key& list, std::string_view id, permissions::action a) {
  if (own_target(c, list, id, a))
    if (const auto& decision = c.decided[static_cast<std::size_t>(a)]) return *decision;
  return satisfies(c, v, permissions::required(list, id, a));
}

void resolve_permissions(call& c) {
  using permissions::action;
  actors::authorization_request request;
  request.user_id = c.who.user_id;
  std::vector<action> actions;
  const list_key& list = c.r.list;
  const bool resource = (c.r.ep == endpoint::object || c.r.ep == endpoint::plural) && list.of != kind::account;
  if (resource && c.r.ep == endpoint::object) actions = {action::read, action::write, action::create, action::read_all};
  // On a list, the caller's own objects matter only when it may not use the
  // whole list (decide() skips the question otherwise).
  const bool holding_write = c.is("DELETE");
  if (resource && c.r.ep == endpoint::plural) {
    actions = {holding_write ? action::write_all : action::read_all, action::create};
    std::vector<std::string> names;
    if (holding_write) names.emplace_back("write");
    else for (auto name : permissions::listing_names(list.of)) names.emplace_back(name);
    request.holdings.push_back({list.object_uri(""), std::move(names), 0});
  }
  std::vector<permissions::requirement> requirements;
  for (action a : actions) {
    requirements.push_back(permissions::required(list, c.r.id, a));
    request.checks.push_back(requirements.back().entries);
  }
  actors::authorization answer = c.authorize(request);
  c.who.principals = std::move(answer.principals);
  for (std::size_t i = 0; i < actions.size(); ++i)
    c.decided[static_cast<std::size_t>(actions[i])] = answer.allowed[i] || settings_grant(c, requirements[i]);
  if (!answer.holds.empty()) (holding_write ? c.holds_writing : c.holds_listing) = answer.holds[0];
}

error denied(const call& c) { return c.who.authenticated() ? forbidden() : unauthorized(); }

bool holds_on_some(const call& c, const storage::view& v, const list_key& list,
                   const std::vector<std::string_view>& names) {
  if (list == c.r.list && c.r.ep == endpoint::plural)
    return names.size() == 1 && names[0] == "write" ? c.holds_writing : c.holds_listing;
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
