// Typed operations over the key layout of storage/README.md.
#include "storage/store.hpp"

#include "schema/json.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace kinto::storage {

namespace {

char kind_tag(kind k) {
  switch (k) {
    case kind::bucket: return 'b';
    case kind::group: return 'g';
    case kind::collection: return 'c';
    case kind::record: return 'r';
    case kind::account: return 'a';
    case kind::history: return 'h';
  }
  return '?';
}

void append_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

std::uint64_t read_be64(std::string_view bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < bytes.size(); ++i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

constexpr char flag_deleted = 1;

/// Deletes every key of `dbi` starting with `prefix`.
int erase_prefix(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix) {
  lmdb::cursor cur;
  if (int rc = cur.open(txn, dbi); rc != MDB_SUCCESS) return rc;
  while (cur.seek(prefix) && starts_with(cur.key(), prefix)) {
    if (int rc = cur.erase(); rc != MDB_SUCCESS) return rc;
  }
  return MDB_SUCCESS;
}

std::string member_key(std::string_view principal, std::string_view group_uri) {
  std::string key;
  key.reserve(principal.size() + 1 + group_uri.size());
  key += principal;
  key += '\0';
  key += group_uri;
  return key;
}

} // namespace

status status_of(int rc) {
  switch (rc) {
    case MDB_SUCCESS: return status::ok;
    case MDB_KEYEXIST: return status::conflict;
    case MDB_MAP_FULL: return status::full;
    default: return status::failed;
  }
}

std::string list_prefix(const list_key& list) {
  std::string key;
  key.reserve(list.parent.size() + 3);
  key += list.parent;
  key += '\0';
  key += kind_tag(list.of);
  key += '\0';
  return key;
}

std::string encode_object(const object& obj) {
  std::string bytes;
  bytes.reserve(9 + obj.data.size());
  append_be64(bytes, obj.last_modified);
  bytes += obj.deleted ? flag_deleted : char(0);
  if (!obj.deleted) bytes += obj.data;
  return bytes;
}

std::optional<object> decode_object(std::string_view bytes) {
  if (bytes.size() < 9) return std::nullopt;
  object obj;
  obj.last_modified = read_be64(bytes);
  obj.deleted = (bytes[8] & flag_deleted) != 0;
  obj.data.assign(bytes.substr(9));
  return obj;
}

// ---- key limits ---------------------------------------------------------------

namespace {

std::size_t longest_permission_name(kind k) {
  std::size_t longest = 0;
  for (std::string_view name : permission_names(k)) longest = std::max(longest, name.size());
  return longest;
}

/// What the longest key built from an object URI and a principal adds to
/// both, for an object of kind `k`:
///   grants          principal 0x00 uri 0x00 name                      2 + longest name
///   members         principal 0x00 group uri                          1
///   bucket history  principal 0x00 uri /history/ id 0x00 read         2 + 9 + 36 + 4
///   trim counters   history-count 0x00 uri 0x00 resource 0x00 author  3 + 13 + 10 (meta)
/// The history entries of a bucket's children carry the bucket's URI, not
/// theirs, so the bucket's limit covers them.
std::size_t key_overhead(kind k) {
  const std::size_t grant = 2 + longest_permission_name(k);
  if (k != kind::bucket) return grant;
  const std::size_t history_grant = 2 + std::string_view("/history/").size() + history_entry_id_bytes + 4;
  return std::max(grant, history_grant);
}

/// Keys built from a URI alone: the change index of its child lists,
/// uri 0x00 tag 0x00 timestamp, is the longest.
constexpr std::size_t child_list_overhead = 3 + 8;

std::size_t minus(std::size_t a, std::size_t b) { return a > b ? a - b : 0; }

} // namespace

key_limits::key_limits(std::size_t key_bytes)
    : key_bytes_(key_bytes), principal_bytes_(minus(key_bytes, key_overhead(kind::group)) / 2) {}

std::size_t key_limits::uri_bytes(kind k) const {
  return std::min(minus(minus(key_bytes_, principal_bytes_), key_overhead(k)), minus(key_bytes_, child_list_overhead));
}

bool key_limits::uri_fits(const list_key& list, std::string_view id) const {
  const std::size_t uri = list.parent.size() + 2 + kind_plural(list.of).size() + id.size();
  return uri <= uri_bytes(list.of);
}

// ---- view -------------------------------------------------------------------

std::optional<object> view::get(const list_key& list, std::string_view id) const {
  std::string key = list_prefix(list);
  key += id;
  auto bytes = lmdb::get(txn_, dbs_->objects, key);
  if (!bytes) return std::nullopt;
  return decode_object(*bytes);
}

std::optional<std::uint64_t> view::list_timestamp(const list_key& list) const {
  auto bytes = lmdb::get(txn_, dbs_->timestamps, list_prefix(list));
  if (!bytes || bytes->size() != 8) return std::nullopt;
  return read_be64(*bytes);
}

std::optional<std::string> view::permissions(std::string_view uri) const {
  ++permission_lookups_;
  auto bytes = lmdb::get(txn_, dbs_->permissions, uri);
  if (!bytes) return std::nullopt;
  return std::string(*bytes);
}

std::vector<std::string> view::groups_of(std::string_view principal) const {
  std::vector<std::string> groups;
  lmdb::cursor cur;
  if (cur.open(txn_, dbs_->members) != MDB_SUCCESS) return groups;
  std::string prefix(principal);
  prefix += '\0';
  for (bool ok = cur.seek(prefix); ok && starts_with(cur.key(), prefix); ok = cur.next())
    groups.emplace_back(cur.key().substr(prefix.size()));
  return groups;
}

void view::walk_all(const list_key& list, const std::function<bool(const change&)>& visit) const {
  lmdb::cursor cur;
  if (cur.open(txn_, dbs_->objects) != MDB_SUCCESS) return;
  const std::string prefix = list_prefix(list);
  for (bool ok = cur.seek(prefix); ok && starts_with(cur.key(), prefix); ok = cur.next()) {
    std::string_view bytes = cur.value();
    if (bytes.size() < 9) continue;
    change c{read_be64(bytes), cur.key().substr(prefix.size()), (bytes[8] & flag_deleted) != 0, bytes.substr(9)};
    if (!visit(c)) break;
  }
}

void view::walk(const list_key& list, std::uint64_t after, std::uint64_t before, bool newest_first,
                const std::function<bool(const change&)>& visit,
                const std::function<bool(std::string_view id)>& wanted) const {
  lmdb::cursor cur;
  if (cur.open(txn_, dbs_->changes) != MDB_SUCCESS) return;
  const std::string prefix = list_prefix(list);
  std::string upper = prefix;
  if (before == 0) {
    upper.back() = '\1'; // just past every key of the list
  } else {
    append_be64(upper, before);
  }
  std::string lower = prefix;
  append_be64(lower, after + 1);
  std::string object_key = prefix;
  bool ok = newest_first ? cur.seek_before(upper) : cur.seek(lower);
  for (; ok && starts_with(cur.key(), prefix); ok = newest_first ? cur.prev() : cur.next()) {
    std::uint64_t ts = read_be64(cur.key().substr(prefix.size()));
    if (newest_first ? ts <= after : (before != 0 && ts >= before)) break;
    std::string_view id = cur.value();
    if (wanted && !wanted(id)) continue;
    object_key.resize(prefix.size());
    object_key += id;
    auto bytes = lmdb::get(txn_, dbs_->objects, object_key);
    if (!bytes || bytes->size() < 9) continue;
    change c{ts, id, ((*bytes)[8] & flag_deleted) != 0, bytes->substr(9)};
    if (!visit(c)) break;
  }
}

void view::walk_grants(std::string_view principal, std::string_view uri_prefix,
                       const std::function<bool(std::string_view, std::string_view)>& visit) const {
  lmdb::cursor cur;
  if (cur.open(txn_, dbs_->grants) != MDB_SUCCESS) return;
  std::string prefix(principal);
  prefix += '\0';
  const std::size_t uri_start = prefix.size();
  prefix += uri_prefix;
  for (bool ok = cur.seek(prefix); ok && starts_with(cur.key(), prefix); ok = cur.next()) {
    std::string_view rest = cur.key().substr(uri_start);
    const auto sep = rest.find('\0');
    if (sep == std::string_view::npos) continue;
    if (!visit(rest.substr(0, sep), rest.substr(sep + 1))) break;
  }
}

std::optional<std::string> view::meta(std::string_view key) const {
  auto bytes = lmdb::get(txn_, dbs_->meta, key);
  if (!bytes) return std::nullopt;
  return std::string(*bytes);
}

// ---- batch ------------------------------------------------------------------

status batch::put(const list_key& list, std::string_view id, const object& obj,
                  std::optional<std::uint64_t> previous) {
  const std::string prefix = list_prefix(list);
  std::string key = prefix;
  key += id;
  // The change entry to move is the stored version's. A write planned on
  // another version (one that never became durable, e.g. refused because the
  // map was full) would otherwise leave that entry behind, listing the object
  // twice, and carry changes that were refused: it is refused too.
  std::optional<std::uint64_t> stored;
  if (auto bytes = lmdb::get(txn_, dbs_->objects, key))
    if (auto old = decode_object(*bytes)) stored = old->last_modified;
  if (previous && previous != stored) return status::conflict;
  std::string change_key = prefix;
  append_be64(change_key, obj.last_modified);
  if (!stored || *stored != obj.last_modified) {
    // Timestamps are unique within a list: the change index is keyed by them.
    if (lmdb::get(txn_, dbs_->changes, change_key)) return status::conflict;
    if (stored) {
      std::string old_key = prefix;
      append_be64(old_key, *stored);
      if (int rc = lmdb::del(txn_, dbs_->changes, old_key); rc != MDB_SUCCESS) return status_of(rc);
    }
  }
  if (int rc = lmdb::put(txn_, dbs_->changes, change_key, id); rc != MDB_SUCCESS) return status_of(rc);
  return status_of(lmdb::put(txn_, dbs_->objects, key, encode_object(obj)));
}

status batch::set_list_timestamp(const list_key& list, std::uint64_t ts) {
  std::string value;
  append_be64(value, ts);
  return status_of(lmdb::put(txn_, dbs_->timestamps, list_prefix(list), value));
}

namespace {

/// Keys of the reverse index: principal 0x00 uri 0x00 permission name.
std::vector<std::string> grant_keys(std::string_view uri, std::string_view json_object) {
  std::vector<std::string> keys;
  if (json_object.empty()) return keys;
  std::string err;
  auto perms = json::parse(json_object, err);
  if (!perms || !perms->is_object()) return keys;
  for (const auto& [name, principals] : perms->as_object()) {
    if (!principals.is_array()) continue;
    for (const auto& p : principals.as_array()) {
      if (!p.is_string()) continue;
      std::string key = p.as_string();
      key += '\0';
      key += uri;
      key += '\0';
      key += name;
      keys.push_back(std::move(key));
    }
  }
  return keys;
}

} // namespace

status batch::set_permissions(std::string_view uri, std::string_view json_object) {
  const bool empty = json_object.empty() || json_object == "{}";
  if (auto old = lmdb::get(txn_, dbs_->permissions, uri)) {
    if (!empty && *old == json_object) return status::ok;
    for (const auto& key : grant_keys(uri, *old))
      if (int rc = lmdb::del(txn_, dbs_->grants, key); rc != MDB_SUCCESS) return status_of(rc);
  }
  if (empty) return status_of(lmdb::del(txn_, dbs_->permissions, uri));
  for (const auto& key : grant_keys(uri, json_object))
    if (int rc = lmdb::put(txn_, dbs_->grants, key, {}); rc != MDB_SUCCESS) return status_of(rc);
  return status_of(lmdb::put(txn_, dbs_->permissions, uri, json_object));
}

status batch::add_member(std::string_view principal, std::string_view group_uri) {
  return status_of(lmdb::put(txn_, dbs_->members, member_key(principal, group_uri), {}));
}

status batch::remove_member(std::string_view principal, std::string_view group_uri) {
  return status_of(lmdb::del(txn_, dbs_->members, member_key(principal, group_uri)));
}

status batch::erase_children(std::string_view uri) {
  // Memberships of the groups below (a bucket's groups) go first, while the
  // group objects can still be read.
  const list_key groups{std::string(uri), kind::group};
  std::vector<std::pair<std::string, std::string>> memberships;
  {
    lmdb::cursor cur;
    if (int rc = cur.open(txn_, dbs_->objects); rc != MDB_SUCCESS) return status_of(rc);
    const std::string prefix = list_prefix(groups);
    for (bool ok = cur.seek(prefix); ok && starts_with(cur.key(), prefix); ok = cur.next()) {
      auto obj = decode_object(cur.value());
      if (!obj || obj->deleted) continue;
      std::string err;
      auto data = json::parse(obj->data, err);
      const json::value* members = data ? data->find("members") : nullptr;
      if (!members || !members->is_array()) continue;
      const std::string group_uri = groups.object_uri(cur.key().substr(prefix.size()));
      for (const auto& m : members->as_array())
        if (m.is_string()) memberships.emplace_back(m.as_string(), group_uri);
    }
  }
  for (const auto& [principal, group_uri] : memberships)
    if (status s = remove_member(principal, group_uri); s != status::ok) return s;

  std::string direct(uri);
  direct += '\0';
  std::string deeper(uri);
  deeper += '/';
  for (MDB_dbi dbi : {dbs_->objects, dbs_->changes, dbs_->timestamps}) {
    if (int rc = erase_prefix(txn_, dbi, direct); rc != MDB_SUCCESS) return status_of(rc);
    if (int rc = erase_prefix(txn_, dbi, deeper); rc != MDB_SUCCESS) return status_of(rc);
  }
  // Permissions below, with their reverse-index entries.
  std::vector<std::string> grants;
  {
    lmdb::cursor cur;
    if (int rc = cur.open(txn_, dbs_->permissions); rc != MDB_SUCCESS) return status_of(rc);
    for (bool ok = cur.seek(deeper); ok && starts_with(cur.key(), deeper); ok = cur.next())
      for (auto& key : grant_keys(cur.key(), cur.value())) grants.push_back(std::move(key));
  }
  for (const auto& key : grants)
    if (int rc = lmdb::del(txn_, dbs_->grants, key); rc != MDB_SUCCESS) return status_of(rc);
  return status_of(erase_prefix(txn_, dbs_->permissions, deeper));
}

status batch::erase_object(const list_key& list, std::string_view id) {
  const std::string prefix = list_prefix(list);
  std::string key = prefix;
  key += id;
  auto bytes = lmdb::get(txn_, dbs_->objects, key);
  if (!bytes) return status::ok;
  auto obj = decode_object(*bytes);
  if (obj) {
    std::string change_key = prefix;
    append_be64(change_key, obj->last_modified);
    if (int rc = lmdb::del(txn_, dbs_->changes, change_key); rc != MDB_SUCCESS) return status_of(rc);
  }
  if (int rc = lmdb::del(txn_, dbs_->objects, key); rc != MDB_SUCCESS) return status_of(rc);
  return set_permissions(list.object_uri(id), "{}");
}

status batch::forget_principal(std::string_view principal) {
  std::vector<std::string> uris;
  walk_grants(principal, "", [&](std::string_view uri, std::string_view) {
    if (uris.empty() || uris.back() != uri) uris.emplace_back(uri);
    return true;
  });
  for (const auto& uri : uris) {
    auto text = permissions(uri);
    if (!text) continue;
    std::string err;
    auto perms = json::parse(*text, err);
    if (!perms || !perms->is_object()) continue;
    json::value kept = json::value::object();
    for (const auto& [name, principals] : perms->as_object()) {
      if (!principals.is_array()) continue;
      json::value list = json::value::array();
      for (const auto& p : principals.as_array())
        if (!(p.is_string() && p.as_string() == principal)) list.as_array().push_back(p);
      if (!list.as_array().empty()) kept.set(name, std::move(list));
    }
    if (status st = set_permissions(uri, json::serialize(kept)); st != status::ok) return st;
  }
  std::string prefix(principal);
  prefix += '\0';
  return status_of(erase_prefix(txn_, dbs_->members, prefix));
}

status batch::set_meta(std::string_view key, std::string_view value) {
  return status_of(lmdb::put(txn_, dbs_->meta, key, value));
}

status batch::erase_everything() {
  for (MDB_dbi dbi : {dbs_->objects, dbs_->changes, dbs_->timestamps, dbs_->permissions, dbs_->grants, dbs_->members})
    if (int rc = mdb_drop(txn_, dbi, 0); rc != MDB_SUCCESS) return status_of(rc);
  return status::ok;
}

// ---- store ------------------------------------------------------------------

std::unique_ptr<store> store::open(const store_options& options, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(options.directory, ec);
  if (ec) {
    error = "cannot create data directory " + options.directory + ": " + ec.message();
    return nullptr;
  }
  auto s = std::unique_ptr<store>(new store());
  if (int rc = s->env_.open(options.directory, options.map_size, 16, options.max_readers); rc != MDB_SUCCESS) {
    error = "cannot open LMDB environment in " + options.directory + ": " + mdb_strerror(rc);
    return nullptr;
  }
  s->limits_ = key_limits(static_cast<std::size_t>(mdb_env_get_maxkeysize(s->env_.get())));
  lmdb::txn txn;
  if (int rc = txn.begin(s->env_.get(), false); rc != MDB_SUCCESS) {
    error = std::string("cannot begin transaction: ") + mdb_strerror(rc);
    return nullptr;
  }
  struct named {
    const char* name;
    MDB_dbi* dbi;
  };
  for (named n : {named{"objects", &s->dbs_.objects}, named{"changes", &s->dbs_.changes},
                  named{"timestamps", &s->dbs_.timestamps}, named{"permissions", &s->dbs_.permissions},
                  named{"grants", &s->dbs_.grants}, named{"members", &s->dbs_.members},
                  named{"meta", &s->dbs_.meta}}) {
    if (int rc = mdb_dbi_open(txn.get(), n.name, MDB_CREATE, n.dbi); rc != MDB_SUCCESS) {
      error = std::string("cannot open database ") + n.name + ": " + mdb_strerror(rc);
      return nullptr;
    }
  }
  if (int rc = txn.commit(); rc != MDB_SUCCESS) {
    error = std::string("cannot commit: ") + mdb_strerror(rc);
    return nullptr;
  }
  return s;
}

snapshot store::read() const {
  lmdb::txn txn;
  if (txn.begin(env_.get(), true) != MDB_SUCCESS) return snapshot(lmdb::txn{}, dbs_);
  return snapshot(std::move(txn), dbs_);
}

} // namespace kinto::storage
