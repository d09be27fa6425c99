#include "core/access.hpp"

#include <algorithm>

namespace kinto::core {

error denied(const caller& who) { return who.authenticated() ? forbidden() : unauthorized(); }


namespace {

bool contains(std::span<const std::string> list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

} // namespace

std::string caller::author() const { return authenticated() ? user_id : std::string(everyone); }

bool caller::holds_any(std::span<const std::string> allowed) const {
  return std::any_of(principals.begin(), principals.end(), [&](const std::string& p) { return contains(allowed, p); });
}

caller resolve_caller(std::string user_id, const storage::view& v) {
  caller who;
  who.user_id = std::move(user_id);
  if (who.authenticated()) who.principals.push_back(who.user_id);
  who.principals.emplace_back(everyone);
  if (!who.authenticated()) return who;
  who.principals.emplace_back(authenticated);
  for (auto& group : v.groups_of_any(members_of(who.user_id)))
    if (!contains(who.principals, group)) who.principals.push_back(std::move(group));
  return who;
}

std::vector<std::string_view> members_of(const std::string& user_id) {
  if (user_id.empty()) return {};
  return {user_id, authenticated};
}

const std::vector<std::string>& principal_settings::of(const std::string& setting) const {
  static const std::vector<std::string> none;
  auto it = by_name.find(setting);
  return it == by_name.end() ? none : it->second;
}

const acl& decider::acl_of(const std::string& uri) {
  auto it = acls_.find(uri);
  if (it == acls_.end()) {
    auto text = view_.permissions(uri);
    it = acls_.emplace(uri, text ? acl::decode(*text) : acl{}).first;
  }
  return it->second;
}

bool decider::satisfies(const permissions::requirement& r) {
  for (const auto& setting : r.settings)
    if (who_.holds_any(settings_.of(setting))) return true;
  return std::any_of(r.entries.begin(), r.entries.end(),
                     [&](const permissions::entry& e) { return acl_of(e.uri).grants(e.name, who_.principals); });
}

bool decider::may(const list_key& list, std::string_view id, permissions::action a) {
  return satisfies(permissions::required(list, id, a));
}

bool decider::holds_on_some(const list_key& list, std::span<const std::string_view> names) const {
  bool found = false;
  for (const auto& principal : who_.principals) {
    view_.walk_grants(principal, list, [&](const list_key&, std::string_view, std::string_view name) {
      found = std::find(names.begin(), names.end(), name) != names.end();
      return !found;
    });
    if (found) return true;
  }
  return false;
}

storage::visibility holding(const storage::view& v, std::shared_ptr<const caller> who, list_key list,
                            std::vector<std::string_view> names) {
  const storage::view* snapshot = &v;
  return [snapshot, who = std::move(who), list = std::move(list), names = std::move(names)](std::string_view id) {
    auto text = snapshot->permissions(list.object_uri(id));
    if (!text) return false;
    const acl granted = acl::decode(*text);
    return std::any_of(names.begin(), names.end(),
                       [&](std::string_view name) { return granted.grants(name, who->principals); });
  };
}

} // namespace kinto::core
