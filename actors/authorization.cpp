// The permission decision itself, apart from where its facts come from.
#include "actors/authorization.hpp"

#include <algorithm>

namespace kinto::actors {

namespace {

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

} // namespace

authorization decide(const authorization_request& request, const storage::view& snap,
                     const authorization_sources& sources) {
  authorization answer;
  const std::string& user = request.user_id;
  if (!user.empty()) answer.principals.push_back(user);
  answer.principals.emplace_back(everyone);
  if (!user.empty()) {
    answer.principals.emplace_back(authenticated);
    for (std::string_view member : {std::string_view(user), authenticated})
      for (const auto& g : sources.groups_of(std::string(member)))
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
      std::any_of(check.begin(), check.end(), [&](const auto& e) { return listed(sources.acl_of(e.uri), e.name); }));
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
