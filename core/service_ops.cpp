// Server-wide operations: the permissions endpoint (auth-permissions.md §8),
// user data deletion (batch-and-plugins.md §7), flush, heartbeat, and the
// history plugin's collection snapshot (batch-and-plugins.md §3.5).
#include "core/ops.hpp"

#include "core/implicit.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>

namespace kinto::core {

namespace {

/// Resource name and ids of an object URI ("/buckets/b/collections/c").
json::value entry_for(std::string_view uri) {
  json::value entry = json::value::object();
  entry.set("uri", json::value(uri));
  std::vector<std::string> parts;
  for (std::size_t i = 1; i <= uri.size();) {
    std::size_t j = uri.find('/', i);
    if (j == std::string_view::npos) j = uri.size();
    parts.emplace_back(uri.substr(i, j - i));
    i = j + 1;
  }
  std::string resource = "root";
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2) {
    const std::string& plural = parts[i];
    std::string name = plural == "buckets" ? "bucket" : plural == "collections" ? "collection"
                     : plural == "groups" ? "group" : plural == "records" ? "record"
                     : plural == "accounts" ? "account" : plural;
    entry.set(name + "_id", json::value(parts[i + 1]));
    resource = name;
  }
  entry.set("resource_name", json::value(resource));
  if (parts.size() >= 2) entry.set("id", json::value(parts.back()));
  // Keep uri, resource_name and id first, as upstream lists them.
  json::value ordered = json::value::object();
  for (const char* key : {"uri", "resource_name", "id"})
    if (const json::value* v = entry.find(key)) ordered.set(key, *v);
  for (const auto& m : entry.as_object())
    if (!ordered.find(m.key)) ordered.set(m.key, m.val);
  return ordered;
}

kind kind_of_resource(std::string_view name) {
  if (name == "bucket") return kind::bucket;
  if (name == "collection") return kind::collection;
  if (name == "group") return kind::group;
  if (name == "account") return kind::account;
  return kind::record;
}

} // namespace

void op_permissions(const context& ctx, port& p, permissions_read req,
                    std::function<void(result<std::vector<json::value>>)> answer) {
  const rules& cfg = ctx.cfg;
  storage::snapshot snap = p.read();
  if (!snap.valid()) return answer(failure{backend_unavailable()});
  const auto done = trusted(snap, answer);
  const caller who = resolve_caller(req.user_id, snap);
  if (!who.holds_any(cfg.permissions_read_principals)) return done(failure{denied(who)});
  if (req.invalid) return done(failure{*req.invalid});
  const query::request& q = req.q;

  // Explicit permissions, from the reverse index.
  std::map<std::string, std::set<std::string>> held;
  for (const auto& principal : who.principals)
    snap.walk_grants(principal, [&](const list_key& list, std::string_view id, std::string_view name) {
      if (list.of == kind::history) return true; // history entries are never listed
      held[list.object_uri(id)].insert(std::string(name));
      return true;
    });
  // Permissions granted by settings, on every object of their kind.
  auto granted = [&](const std::string& setting) { return who.holds_any(cfg.principals_of(setting)); };
  if (granted("bucket_create_principals")) held["/"].insert("bucket:create");
  if (cfg.accounts && who.holds_any(cfg.account_create_principals)) held["/"].insert("account:create");
  struct setting_grant {
    kind k;
    std::string name;
  };
  std::vector<setting_grant> by_settings;
  for (const auto& [k, type] : {std::pair{kind::bucket, "bucket"}, {kind::collection, "collection"}, {kind::group, "group"}})
    for (const char* perm : {"read", "write"})
      if (granted(std::string(type) + "_" + perm + "_principals")) by_settings.push_back({k, perm});
  if (granted("collection_create_principals")) by_settings.push_back({kind::bucket, "collection:create"});
  if (granted("group_create_principals")) by_settings.push_back({kind::bucket, "group:create"});
  if (granted("record_create_principals")) by_settings.push_back({kind::collection, "record:create"});
  if (!by_settings.empty()) {
    auto grant_all = [&](const list_key& list) {
      snap.walk(list, 0, 0, true, [&](const storage::change& ch) {
        if (ch.deleted) return true;
        for (const auto& g : by_settings)
          if (g.k == list.of) held[list.object_uri(ch.id)].insert(g.name);
        return true;
      });
    };
    const list_key buckets{"", kind::bucket};
    grant_all(buckets);
    snap.walk(buckets, 0, 0, true, [&](const storage::change& ch) {
      if (ch.deleted) return true;
      const std::string uri = buckets.object_uri(ch.id);
      grant_all(list_key{uri, kind::collection});
      grant_all(list_key{uri, kind::group});
      return true;
    });
  }

  std::vector<json::value> entries;
  for (const auto& [uri, names] : held) {
    json::value entry = uri == "/" ? json::value::object() : entry_for(uri);
    if (uri == "/") {
      entry.set("uri", json::value("/"));
      entry.set("resource_name", json::value("root"));
    }
    const kind k = kind_of_resource(entry.find("resource_name")->as_string());
    std::set<std::string> all;
    for (const auto& name : names)
      for (auto& implied : permissions::implied(k, name)) all.insert(std::move(implied));
    json::value list = json::value::array();
    for (const auto& name : all) list.as_array().emplace_back(name);
    entry.set("permissions", std::move(list));
    if (query::matches_all(q.filters, entry)) entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [&](const json::value& a, const json::value& b) { return query::compare_by(q.sort, a, b) < 0; });
  done(std::move(entries));
}

void op_delete_user_data(const context& ctx, port& p, user_data_removal req, std::function<void(result<bool>)> done) {
  storage::snapshot snap = p.read();
  if (!snap.valid()) return done(failure{backend_unavailable()});
  const caller who = resolve_caller(req.user_id, snap);
  if (!who.holds_any(ctx.cfg.user_data_delete_principals)) return trusted(snap, done)(failure{denied(who)});
  const std::string principal = req.principal;

  // Objects whose write permission names this principal alone.
  std::vector<std::string> owned;
  snap.walk_grants(principal, [&](const list_key& list, std::string_view id, std::string_view name) {
    if (name != "write") return true;
    const std::string uri = list.object_uri(id);
    if (acl::decode(snap.permissions(uri).value_or("{}")).principals("write").size() == 1) owned.push_back(uri);
    return true;
  });
  // Parents first; children of a deleted object go with it.
  std::sort(owned.begin(), owned.end(), [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  std::vector<std::string> roots;
  for (const auto& uri : owned) {
    const bool below = std::any_of(roots.begin(), roots.end(), [&](const std::string& r) { return uri.rfind(r + "/", 0) == 0; });
    if (!below) roots.push_back(uri);
  }

  // Last, the principal leaves every other permission and group.
  auto finish = [ctx, &p, principal, done] {
    p.apply([principal](storage::writer& b) { return b.forget_principal(principal); },
            [ctx, done](storage::status s) {
              ctx.resume([done, s] {
                if (s != storage::status::ok) return done(failure{backend_unavailable()});
                done(true);
              });
            });
  };
  // The writes: deletions of what only they could write, and the groups
  // they belong to, without them.
  std::vector<std::pair<list_key, write_command>> writes;
  for (const auto& uri : roots) {
    auto ref = owner_of(uri);
    if (!ref) continue;
    write_command cmd;
    cmd.op = write_op::remove;
    cmd.id = ref->id;
    cmd.author = who.author();
    writes.emplace_back(ref->list, std::move(cmd));
  }
  for (const auto& group_uri : snap.groups_of(principal)) {
    const bool deleted = std::any_of(roots.begin(), roots.end(), [&](const std::string& r) {
      return group_uri == r || group_uri.rfind(r + "/", 0) == 0;
    });
    auto ref = owner_of(group_uri);
    if (deleted || !ref) continue;
    auto group = snap.get(ref->list, ref->id);
    std::string err;
    auto data = group && !group->deleted ? json::parse(group->data, err) : std::nullopt;
    const json::value* members = data ? data->find("members") : nullptr;
    if (!members || !members->is_array()) continue;
    json::value kept = json::value::array();
    for (const auto& m : members->as_array())
      if (!(m.is_string() && m.as_string() == principal)) kept.as_array().push_back(m);
    write_command cmd;
    cmd.op = write_op::patch;
    cmd.id = ref->id;
    cmd.author = who.author();
    cmd.explicit_permissions = false; // an operator's clean-up, not an edit of theirs
    json::value patch = json::value::object();
    patch.set("members", std::move(kept));
    cmd.data = std::move(patch);
    writes.emplace_back(ref->list, std::move(cmd));
  }
  if (snap.failed()) return done(failure{backend_unavailable()});
  if (writes.empty()) return finish();
  auto remaining = std::make_shared<std::atomic<std::size_t>>(writes.size());
  for (auto& [list, cmd] : writes)
    p.write(list, std::move(cmd), [ctx, remaining, finish](write_outcome) {
      if (remaining->fetch_sub(1) == 1) ctx.resume(finish);
    }, nullptr, ctx.resume);
}

void op_flush(port& p, std::function<void(result<bool>)> done) {
  p.apply([](storage::writer& b) { return b.erase_everything(); }, [done](storage::status s) {
    if (s != storage::status::ok) return done(failure{backend_unavailable()});
    done(true);
  });
}

void op_heartbeat(port& p, bool write, std::string stamp, std::function<void(bool readable, bool writable)> done) {
  // A read transaction that opens, and, when asked, a durable write (as
  // upstream's storage check writes), so a full disk or map shows.
  bool readable = false;
  {
    storage::snapshot snap = p.read();
    if (snap.valid()) {
      (void)snap.meta("heartbeat");
      readable = !snap.failed();
    }
  }
  if (!readable || !write) return done(readable, readable);
  p.apply([stamp = std::move(stamp)](storage::writer& b) { return b.set_meta("heartbeat", stamp); },
          [done](storage::status s) { done(true, s == storage::status::ok); });
}

namespace {

void read_history_snapshot(const context& ctx, port& p, const history_snapshot_read& req,
                           const std::function<void(result<std::vector<std::string>>)>& answer) {
  storage::snapshot snap = p.read();
  if (!snap.valid()) return answer(failure{backend_unavailable()});
  const auto done = trusted(snap, answer);
  const caller who = resolve_caller(req.user_id, snap);
  const std::string bucket_uri = "/buckets/" + req.bucket_id;
  const std::string collection_uri = bucket_uri + "/collections/" + req.collection_id;
  const std::uint64_t when = req.at;
  // Read or write on the bucket or the collection, through their ACLs only.
  permissions::requirement needed;
  for (const std::string& uri : {bucket_uri, collection_uri})
    for (const char* name : {"read", "write"}) needed.entries.push_back({uri, name});
  if (!decider(snap, who, ctx.cfg.principal_settings).satisfies(needed)) return done(failure{denied(who)});

  // Records as stored, and where they changed after `when`, the newest
  // version at or before it from the history.
  std::map<std::string, json::value> versions;
  std::map<std::string, std::uint64_t> newer; // id -> changed after `when`
  const list_key records{collection_uri, kind::record};
  snap.walk_all(records, [&](const storage::change& ch) {
    if (ch.last_modified <= when) {
      if (!ch.deleted) {
        std::string err;
        if (auto data = json::parse(ch.data, err)) versions[std::string(ch.id)] = std::move(*data);
      }
    } else {
      newer[std::string(ch.id)] = ch.last_modified;
    }
    return true;
  });
  if (!newer.empty()) {
    const std::string prefix = collection_uri + "/records/";
    std::map<std::string, std::pair<std::uint64_t, json::value>> best;
    snap.walk_all(list_key{bucket_uri, kind::history}, [&](const storage::change& ch) {
      if (ch.deleted || ch.data.find(prefix) == std::string_view::npos) return true;
      std::string err;
      auto entry = json::parse(ch.data, err);
      const json::value* uri = entry ? entry->find("uri") : nullptr;
      if (!uri || !uri->is_string() || uri->as_string().rfind(prefix, 0) != 0) return true;
      const std::string id = uri->as_string().substr(prefix.size());
      if (!newer.count(id)) return true;
      const json::value* target = entry->find("target");
      const json::value* data = target ? target->find("data") : nullptr;
      const json::value* ts = data ? data->find("last_modified") : nullptr;
      if (!ts || !ts->as_int64() || static_cast<std::uint64_t>(*ts->as_int64()) > when) return true;
      const auto version = static_cast<std::uint64_t>(*ts->as_int64());
      auto it = best.find(id);
      if (it == best.end() || it->second.first < version) best[id] = {version, *data};
      return true;
    });
    for (auto& [id, version] : best)
      if (!version.second.find("deleted")) versions[id] = std::move(version.second);
  }

  std::vector<json::value*> ordered;
  for (auto& [id, v] : versions) ordered.push_back(&v);
  auto ts_of = [](const json::value* v) {
    const json::value* t = v->find("last_modified");
    return t && t->as_int64() ? *t->as_int64() : 0;
  };
  std::sort(ordered.begin(), ordered.end(), [&](const json::value* a, const json::value* b) { return ts_of(a) > ts_of(b); });
  std::vector<std::string> texts;
  texts.reserve(ordered.size());
  for (const json::value* v : ordered) texts.push_back(json::serialize(*v));
  done(std::move(texts));
}

} // namespace

void op_history_snapshot(const context& ctx, port& p, history_snapshot_read req,
                         std::function<void(result<std::vector<std::string>>)> done) {
  auto shared = std::make_shared<history_snapshot_read>(std::move(req));
  create_implicit(ctx, p, shared->user_id, std::move(shared->implicit),
                  [ctx, &p, shared, done = std::move(done)](std::optional<failure> f) {
                    if (f) return done(std::move(*f));
                    read_history_snapshot(ctx, p, *shared, done);
                  });
}

caller op_caller(port& p, std::string user_id) {
  // An invalid snapshot finds no group: storage failures are answered by
  // the operation's own read.
  return resolve_caller(std::move(user_id), p.read());
}

std::optional<std::string> op_account_hash(port& p, const std::string& id) {
  storage::snapshot snap = p.read();
  if (!snap.valid()) return std::nullopt;
  auto obj = snap.get(list_key{"", kind::account}, id);
  if (!obj || obj->deleted) return std::nullopt;
  std::string err;
  auto data = json::parse(obj->data, err);
  const json::value* password = data ? data->find("password") : nullptr;
  if (!password || !password->is_string()) return std::nullopt;
  return password->as_string();
}

void token_registry::remember(const std::string& nonce) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  if (expiry_.size() >= 100000) {
    // Bounded: drop what has expired, and if still full, the whole set.
    for (auto it = expiry_.begin(); it != expiry_.end();) it = it->second < now ? expiry_.erase(it) : std::next(it);
    if (expiry_.size() >= 100000) expiry_.clear();
  }
  expiry_[nonce] = now + validity_;
}

bool token_registry::consume(const std::string& nonce) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = expiry_.find(nonce);
  if (it == expiry_.end()) return false;
  const bool valid = it->second >= std::chrono::steady_clock::now();
  expiry_.erase(it);
  return valid;
}

} // namespace kinto::core
