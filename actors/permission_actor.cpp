// The permission actor keeps two caches, both bounded: the groups of each
// principal, and the parsed permissions of each object URI. Every committed
// write that changes them sends an invalidation before its client is
// answered, and this actor handles messages in order, so a decision made
// for a request that follows a write never sees the state before it.
#include "actors/permission_actor.hpp"

#include "schema/json.hpp"

#include <algorithm>
#include <unordered_map>

namespace kinto::actors {

namespace {

struct permission_state {
  permission_state() = default; // not an aggregate: see list_actor.cpp
  std::unordered_map<std::string, std::vector<std::string>> groups;
  std::unordered_map<std::string, json::value> acls;
  static inline const char* name = "permissions";
};

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

caf::behavior permission_actor(caf::stateful_actor<permission_state>* self, storage::store* store,
                               std::size_t cache_entries) {
  return {
    [=](authorize_atom, authorization_job& job) {
      auto& st = self->state;
      authorization answer;
      storage::snapshot snap = store->read();
      const std::string& user = job.request.user_id;
      if (!user.empty()) answer.principals.push_back(user);
      answer.principals.emplace_back(everyone);
      if (!user.empty()) {
        answer.principals.emplace_back(authenticated);
        for (std::string_view member : {std::string_view(user), authenticated}) {
          auto it = st.groups.find(std::string(member));
          if (it == st.groups.end()) {
            if (st.groups.size() >= cache_entries) st.groups.clear();
            it = st.groups.emplace(std::string(member), snap.valid() ? snap.groups_of(member) : std::vector<std::string>{})
                   .first;
          }
          for (const auto& g : it->second)
            if (!contains(answer.principals, g)) answer.principals.push_back(g);
        }
      }
      auto acl_of = [&](const std::string& uri) -> const json::value& {
        auto it = st.acls.find(uri);
        if (it == st.acls.end()) {
          if (st.acls.size() >= cache_entries) st.acls.clear();
          json::value perms = json::value::object();
          std::string err;
          if (snap.valid())
            if (auto text = snap.permissions(uri))
              if (auto parsed = json::parse(*text, err)) perms = std::move(*parsed);
          it = st.acls.emplace(uri, std::move(perms)).first;
        }
        return it->second;
      };
      auto listed = [&](const json::value& acl, std::string_view name) {
        const json::value* list = acl.find(name);
        if (!list || !list->is_array()) return false;
        for (const auto& p : list->as_array())
          if (p.is_string() && contains(answer.principals, p.as_string())) return true;
        return false;
      };
      for (const auto& check : job.request.checks) {
        bool ok = false;
        for (const auto& e : check) {
          if (listed(acl_of(e.uri), e.name)) {
            ok = true;
            break;
          }
        }
        answer.allowed.push_back(ok);
      }
      for (const auto& h : job.request.holdings) {
        bool found = false;
        if (h.unless_check >= 0 && static_cast<std::size_t>(h.unless_check) < answer.allowed.size() &&
            answer.allowed[static_cast<std::size_t>(h.unless_check)]) {
          answer.holds.push_back(false);
          continue;
        }
        for (const auto& principal : answer.principals) {
          if (!snap.valid()) break;
          snap.walk_grants(principal, h.uri_prefix, [&](std::string_view uri, std::string_view name) {
            if (uri.find('/', h.uri_prefix.size()) != std::string_view::npos) return true; // deeper object
            found = contains(h.names, name);
            return !found;
          });
          if (found) break;
        }
        answer.holds.push_back(found);
      }
      job.done(std::move(answer));
    },
    [=](invalidate_atom, invalidation& what) {
      auto& st = self->state;
      if (what.everything) {
        st.acls.clear();
        st.groups.clear();
        return;
      }
      if (what.memberships) st.groups.clear();
      for (const auto& uri : what.uris) st.acls.erase(uri);
      if (!what.prefixes.empty()) {
        for (auto it = st.acls.begin(); it != st.acls.end();) {
          const bool below = std::any_of(what.prefixes.begin(), what.prefixes.end(),
                                         [&](const std::string& p) { return it->first.rfind(p, 0) == 0; });
          it = below ? st.acls.erase(it) : std::next(it);
        }
      }
    },
  };
}

} // namespace

caf::actor spawn_permission_actor(caf::actor_system& system, storage::store& store, std::size_t cache_entries) {
  return system.spawn(permission_actor, &store, cache_entries);
}

} // namespace kinto::actors
