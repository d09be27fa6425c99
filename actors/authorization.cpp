// The permission decision: the caller's principals (user id, system
// principals, groups through the membership index) and whether they appear
// in given access control entries, read from a snapshot.
#include "actors/authorization.hpp"

#include <algorithm>
#include <unordered_map>

namespace kinto::actors {

namespace {

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

} // namespace

authorization decide(const authorization_request& request, const storage::view& snap) {
  // Each ACL is read and parsed once per decision.
  std::unordered_map<std::string, json::value> acls;
  auto acl_of = [&](const std::string& uri) -> const json::value& {
    auto it = acls.find(uri);
    if (it == acls.end()) {
      json::value perms = json::value::object();
      std::string err;
      if (auto text = snap.permissions(uri))
        if (auto parsed = json::parse(*text, err)) perms = std::move(*parsed);
      it = acls.emplace(uri, std::move(perms)).first;
    }
    return it->second;
  };
  authorization answer;
  const std::string& user = request.user_id;
  if (!user.empty()) answer.principals.push_back(user);
  answer.principals.emplace_back(everyone);
  if (!user.empty()) {
    answer.principals.emplace_back(authenticated);
    for (std::string_view member : {std::string_view(user), authenticated})
      for (const auto& g : snap.groups_of(member))
        if (!contains(answer.principals, g)) answer.principals.push_back(g);
  }
  auto listed = [&](const json::value& acl, std::string_view name) {
    const json::value* list = acl.find(name);
    if (!list || !list->is_array()) return false;
    for (const auto& p : list->as_array())
      if (p.is_string() && contains(answer.principals, p.as_string())) return true;
    return false;
  };
  for (const auto& check : request.checks)
    answer.allowed.push_back(
      std::any_of(check.begin(), check.end(), [&](const auto& e) { return listed(acl_of(e.uri), e.name); }));
  for (const auto& h : request.holdings) {
    if (h.unless_check >= 0 && static_cast<std::size_t>(h.unless_check) < answer.allowed.size() &&
        answer.allowed[static_cast<std::size_t>(h.unless_check)]) {
      answer.holds.push_back(false);
      continue;
    }
    bool found = false;
    for (const auto& principal : answer.principals) {
      snap.walk_grants(principal, h.uri_prefix, [&](std::string_view uri, std::string_view name) {
        if (uri.find('/', h.uri_prefix.size()) != std::string_view::npos) return true; // deeper object
        found = contains(h.names, name);
        return !found;
      });
      if (found) break;
    }
    answer.holds.push_back(found);
  }
  return answer;
}

} // namespace kinto::actors
