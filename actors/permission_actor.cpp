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

caf::behavior permission_actor(caf::stateful_actor<permission_state>* self, storage::store* store,
                               std::size_t cache_entries) {
  return {
    [=](authorize_atom, authorization_job& job) {
      auto& st = self->state;
      storage::snapshot snap = store->read();
      if (!snap.valid()) {
        // No snapshot: answer as for an anonymous caller with no rights.
        authorization none;
        none.principals.emplace_back(everyone);
        none.allowed.assign(job.request.checks.size(), false);
        none.holds.assign(job.request.holdings.size(), false);
        return job.done(std::move(none));
      }
      authorization_sources cached;
      cached.groups_of = [&](const std::string& principal) -> const std::vector<std::string>& {
        auto it = st.groups.find(principal);
        if (it == st.groups.end()) {
          if (st.groups.size() >= cache_entries) st.groups.clear();
          it = st.groups.emplace(principal, snap.groups_of(principal)).first;
        }
        return it->second;
      };
      cached.acl_of = [&](const std::string& uri) -> const json::value& {
        auto it = st.acls.find(uri);
        if (it == st.acls.end()) {
          if (st.acls.size() >= cache_entries) st.acls.clear();
          json::value perms = json::value::object();
          std::string err;
          if (auto text = snap.permissions(uri))
            if (auto parsed = json::parse(*text, err)) perms = std::move(*parsed);
          it = st.acls.emplace(uri, std::move(perms)).first;
        }
        return it->second;
      };
      authorization answer = decide(job.request, snap, cached);
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
