// LMDB as the storage engine: the operations of engine.hpp over the key
// layout of storage/README.md (storage format 2), in one environment with six
// named databases, and the in-place upgrade of a format 1 directory.
#include "storage/lmdb_engine.hpp"

#include "storage/engine_ops.hpp"

#include "base/json.hpp"
#include "storage/lmdb.hpp"
#include "storage/lmdb_backup.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>

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

void append_be32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

std::uint64_t read_be(std::string_view bytes, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width && i < bytes.size(); ++i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

std::uint64_t read_be64(std::string_view bytes) { return read_be(bytes, 8); }

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

constexpr char flag_deleted = 1;
constexpr char flag_permissions = 2;

/// The storage format this code reads and writes, under `format_key` in
/// `meta` (storage/README.md). Format 1 had no such key.
constexpr std::string_view format_key = "storage_format";
constexpr std::string_view current_format = "2";

/// An object's value in the `objects` database, read in place:
///   be64 last_modified, flags (bit 0 tombstone, bit 1 permissions follow),
///   [be64 grant stamp, be32 length, permissions JSON], data JSON.
/// The grant stamp places the object's entries in the reverse index.
struct stored_value {
  std::uint64_t last_modified = 0;
  bool deleted = false;
  std::uint64_t grant_stamp = 0;
  std::string_view permissions; ///< empty: none
  std::string_view data;
};

std::optional<stored_value> read_value(std::string_view bytes) {
  if (bytes.size() < 9) return std::nullopt;
  stored_value v;
  v.last_modified = read_be64(bytes);
  v.deleted = (bytes[8] & flag_deleted) != 0;
  std::string_view rest = bytes.substr(9);
  if (bytes[8] & flag_permissions) {
    if (rest.size() < 12) return std::nullopt;
    v.grant_stamp = read_be64(rest);
    const std::size_t length = read_be(rest.substr(8), 4);
    if (rest.size() - 12 < length) return std::nullopt;
    v.permissions = rest.substr(12, length);
    rest = rest.substr(12 + length);
  }
  v.data = rest;
  return v;
}

std::string value_bytes(std::uint64_t last_modified, bool deleted, std::uint64_t grant_stamp,
                        std::string_view permissions, std::string_view data) {
  std::string bytes;
  bytes.reserve(21 + permissions.size() + data.size());
  append_be64(bytes, last_modified);
  const bool with_permissions = !no_permissions(permissions);
  bytes += static_cast<char>((deleted ? flag_deleted : 0) | (with_permissions ? flag_permissions : 0));
  if (with_permissions) {
    append_be64(bytes, grant_stamp);
    append_be32(bytes, static_cast<std::uint32_t>(permissions.size()));
    bytes += permissions;
  }
  if (!deleted) bytes += data;
  return bytes;
}


std::string member_key(std::string_view principal, std::string_view group_uri) {
  std::string key;
  key.reserve(principal.size() + 1 + group_uri.size());
  key += principal;
  key += '\0';
  key += group_uri;
  return key;
}

/// The key prefix of a list: parent 0x00 tag 0x00.
std::string list_prefix(const list_key& list) {
  std::string key;
  key.reserve(list.parent.size() + 3);
  key += list.parent;
  key += '\0';
  key += kind_tag(list.of);
  key += '\0';
  return key;
}

/// The status of an LMDB return code. ENOSPC comes from a commit that could
/// not write its pages: the disk is full, which is the map being full.
status status_of(int rc) {
  switch (rc) {
    case MDB_SUCCESS: return status::ok;
    case MDB_KEYEXIST: return status::conflict;
    case MDB_MAP_FULL:
    case ENOSPC: return status::full;
    default: return status::failed;
  }
}

} // namespace

std::string encode_object(const object& obj) {
  return value_bytes(obj.last_modified, obj.deleted, obj.last_modified, obj.deleted ? "" : obj.permissions, obj.data);
}

std::optional<object> decode_object(std::string_view bytes) {
  auto v = read_value(bytes);
  if (!v) return std::nullopt;
  return object{v->last_modified, v->deleted, std::string(v->data), std::string(v->permissions)};
}

namespace {

kind kind_of_tag(char tag, bool& known) {
  known = true;
  for (kind k : {kind::bucket, kind::group, kind::collection, kind::record, kind::account, kind::history})
    if (kind_tag(k) == tag) return k;
  known = false;
  return kind::bucket;
}

/// Reads `list` and the rest of `key` after a list prefix at its start.
bool split_list_prefix(std::string_view key, list_key& list, std::string_view& rest) {
  const auto end = key.find('\0');
  if (end == std::string_view::npos || key.size() < end + 3 || key[end + 2] != '\0') return false;
  bool known = false;
  const kind k = kind_of_tag(key[end + 1], known);
  if (!known) return false;
  if (list.parent != key.substr(0, end)) list.parent.assign(key.substr(0, end));
  list.of = k;
  rest = key.substr(end + 3);
  return true;
}

} // namespace

// ---- key limits ---------------------------------------------------------------

namespace {

std::size_t longest_permission_name(kind k) {
  std::size_t longest = 0;
  for (std::string_view name : permission_names(k)) longest = std::max(longest, name.size());
  return longest;
}

/// What the longest key built from an object URI and a principal adds to
/// both, for an object of kind `k`, in storage format 1, whose reverse index
/// had the longest keys:
///   grants          principal 0x00 uri 0x00 name                      2 + longest name
///   members         principal 0x00 group uri                          1
///   bucket history  principal 0x00 uri /history/ id 0x00 read         2 + 9 + 36 + 4
///   trim counters   history-count 0x00 uri 0x00 resource 0x00 author  3 + 13 + 10 (meta)
/// The history entries of a bucket's children carry the bucket's URI, not
/// theirs, so the bucket's limit covers them. Format 2's grant keys,
/// principal 0x00 parent 0x00 tag 0x00 stamp id, are shorter for every
/// kind (storage/README.md); the limits stay those of format 1, so that
/// what was accepted once stays accepted.
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

key_limits lmdb_key_limits(std::size_t key_bytes) {
  const std::size_t principal = minus(key_bytes, key_overhead(kind::group)) / 2;
  return key_limits(principal, [&](kind k) {
    return std::min(minus(minus(key_bytes, principal), key_overhead(k)), minus(key_bytes, child_list_overhead));
  });
}

// ---- operations over one transaction -------------------------------------------

namespace {

struct databases {
  MDB_dbi objects = 0, changes = 0, timestamps = 0, grants = 0, members = 0, meta = 0;

  /// "database objects", for messages.
  std::string name_of(MDB_dbi dbi) const {
    const char* name = dbi == objects      ? "objects"
                       : dbi == changes    ? "changes"
                       : dbi == timestamps ? "timestamps"
                       : dbi == grants     ? "grants"
                       : dbi == members    ? "members"
                       : dbi == meta       ? "meta"
                                           : "?";
    return std::string("database ") + name;
  }
};

/// What each principal holds on one object: principal -> the names of its
/// permissions there, "read,write" (the value of its key in `grants`).
using grant_set = std::map<std::string, std::string, std::less<>>;

grant_set grants_of(std::string_view permissions) {
  grant_set held;
  if (no_permissions(permissions)) return held;
  std::string err;
  auto perms = json::parse(permissions, err);
  if (!perms || !perms->is_object()) return held;
  for (const auto& [name, principals] : perms->as_object()) {
    if (!principals.is_array()) continue;
    for (const auto& p : principals.as_array()) {
      if (!p.is_string()) continue;
      std::string& names = held[p.as_string()];
      if (!names.empty()) names += ',';
      names += name;
    }
  }
  return held;
}

/// The key of a principal's entry in the reverse index, for the object `id`
/// of the list whose prefix is `prefix`: principal 0x00 prefix stamp id.
std::string grant_key(std::string_view principal, std::string_view prefix, std::uint64_t stamp, std::string_view id) {
  std::string key;
  key.reserve(principal.size() + 1 + prefix.size() + 8 + id.size());
  key += principal;
  key += '\0';
  key += prefix;
  append_be64(key, stamp);
  key += id;
  return key;
}

/// The operations of view and writer over one LMDB transaction, which its
/// owner keeps open while they run. Remembers the first failure: a write
/// that failed, or a read that failed otherwise than by finding nothing
/// (those read as "not found"); later writes answer it without writing
/// (through `guarded`). Corruption stops the process.
class txn_ops {
public:
  txn_ops(MDB_txn* txn, const databases& dbs) : txn_(txn), dbs_(&dbs) {}

  std::optional<object> get(const list_key& list, std::string_view id) const;
  std::optional<std::uint64_t> list_timestamp(const list_key& list) const;
  std::optional<std::string> permissions(std::string_view uri) const;
  std::vector<std::string> groups_of(std::span<const std::string_view> principals) const;
  void walk(const list_key& list, std::uint64_t after, std::uint64_t before, bool newest_first,
            const std::function<bool(const change&)>& visit,
            const std::function<bool(std::string_view id)>& wanted) const;
  void walk_all(const list_key& list, const std::function<bool(const change&)>& visit) const;
  void walk_grants(std::string_view principal, const list_key* list, const grant_visitor& visit) const;
  std::optional<std::string> meta(std::string_view key) const;

  status put(const list_key& list, std::string_view id, const object& obj, std::optional<std::uint64_t> previous);
  status set_list_timestamp(const list_key& list, std::uint64_t ts);
  status add_member(std::string_view principal, std::string_view group_uri);
  status remove_member(std::string_view principal, std::string_view group_uri);
  status erase_children(std::string_view uri);
  status erase_object(const list_key& list, std::string_view id);
  status forget_principal(std::string_view principal);
  status set_meta(std::string_view key, std::string_view value);
  status erase_everything();
  /// Stores `permissions` as those of the live object `id` of the list whose
  /// key prefix is `prefix`, leaving its timestamp and change entry as they
  /// are (forget_principal, the format upgrade); `missing` when there is no
  /// such object.
  status rewrite_permissions(std::string_view prefix, std::string_view id, std::string_view permissions);

  /// Runs the write `work` unless a failure came first; answers the first
  /// failure if it met one, in its reads too.
  template <class Work> status guarded(Work&& work) {
    if (failure_ != status::ok) return failure_;
    const status s = work();
    if ((s == status::full || s == status::failed) && failure_ == status::ok) failure_ = s;
    return failure_ != status::ok ? failure_ : s;
  }
  status failure() const { return failure_; }
  /// The transaction has ended: nothing may run any more.
  void finish() {
    txn_ = nullptr;
    if (failure_ == status::ok) failure_ = status::failed;
  }

private:
  bool failed() const { return failure_ != status::ok; }
  /// The value under `key` in `dbi`; nullopt when there is none, or when the
  /// read failed (remembered).
  std::optional<std::string_view> lookup(MDB_dbi dbi, std::string_view key) const;
  /// Opens a cursor on `dbi`; false when none could be opened (remembered).
  bool open_cursor(lmdb::cursor& cur, MDB_dbi dbi) const;
  /// Whether the cursor move that answered `rc` landed on an entry: false at
  /// the end of the data, and when the move failed (remembered).
  bool positioned(int rc, MDB_dbi dbi) const;
  void read_failed(MDB_dbi dbi, int rc) const;
  /// `rc`, the answer of a write to `dbi`, once checked for corruption.
  int wrote(MDB_dbi dbi, int rc) const;
  int store(MDB_dbi dbi, std::string_view key, std::string_view value) {
    return wrote(dbi, lmdb::put(txn_, dbi, key, value));
  }
  int remove(MDB_dbi dbi, std::string_view key) { return wrote(dbi, lmdb::del(txn_, dbi, key)); }
  /// Deletes every key of `dbi` starting with `prefix`.
  status erase_prefix(MDB_dbi dbi, std::string_view prefix);
  /// Moves the reverse index of one object from what `before` grants (at
  /// stamp `old_stamp`) to what `after` grants (at `new_stamp`), writing
  /// only the entries that change.
  status update_grants(std::string_view prefix, std::string_view id, std::uint64_t old_stamp,
                       std::string_view before, std::uint64_t new_stamp, std::string_view after);
  /// Removes the reverse-index entries of every object whose key starts
  /// with `prefix`, and collects the memberships of the groups among them
  /// into `memberships` (principal, group URI).
  status forget_grants_below(std::string_view prefix, std::vector<std::pair<std::string, std::string>>& memberships);

  MDB_txn* txn_;
  const databases* dbs_;
  mutable status failure_ = status::ok;
};

std::optional<std::string_view> txn_ops::lookup(MDB_dbi dbi, std::string_view key) const {
  if (!txn_) return std::nullopt;
  std::string_view value;
  const int rc = lmdb::get(txn_, dbi, key, value);
  if (rc == MDB_SUCCESS) return value;
  if (rc != MDB_NOTFOUND) read_failed(dbi, rc);
  return std::nullopt;
}

bool txn_ops::open_cursor(lmdb::cursor& cur, MDB_dbi dbi) const {
  if (!txn_) return false;
  const int rc = cur.open(txn_, dbi);
  if (rc != MDB_SUCCESS) read_failed(dbi, rc);
  return rc == MDB_SUCCESS;
}

bool txn_ops::positioned(int rc, MDB_dbi dbi) const {
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) read_failed(dbi, rc);
  return rc == MDB_SUCCESS;
}

void txn_ops::read_failed(MDB_dbi dbi, int rc) const {
  // In a write transaction a failed write spoils it (MDB_BAD_TXN from then
  // on): what is stored can no longer be told, so nothing may be decided on
  // what such a read did not find.
  if (lmdb::is_fatal(rc)) lmdb::die(dbs_->name_of(dbi), rc);
  if (failure_ == status::ok) failure_ = status::failed;
}

int txn_ops::wrote(MDB_dbi dbi, int rc) const {
  if (lmdb::is_fatal(rc)) lmdb::die(dbs_->name_of(dbi), rc);
  return rc;
}

status txn_ops::erase_prefix(MDB_dbi dbi, std::string_view prefix) {
  lmdb::cursor cur;
  if (!open_cursor(cur, dbi)) return status::failed;
  while (positioned(cur.seek(prefix), dbi) && starts_with(cur.key(), prefix)) {
    if (int rc = wrote(dbi, cur.erase()); rc != MDB_SUCCESS) return status_of(rc);
  }
  return failed() ? failure_ : status::ok;
}

std::optional<object> txn_ops::get(const list_key& list, std::string_view id) const {
  std::string key = list_prefix(list);
  key += id;
  auto bytes = lookup(dbs_->objects, key);
  if (!bytes) return std::nullopt;
  return decode_object(*bytes);
}

std::optional<std::uint64_t> txn_ops::list_timestamp(const list_key& list) const {
  auto bytes = lookup(dbs_->timestamps, list_prefix(list));
  if (!bytes || bytes->size() != 8) return std::nullopt;
  return read_be64(*bytes);
}

std::optional<std::string> txn_ops::permissions(std::string_view uri) const {
  auto at = owner_of(uri);
  if (!at) return std::nullopt;
  std::string key = list_prefix(at->list);
  key += at->id;
  auto bytes = lookup(dbs_->objects, key);
  if (!bytes) return std::nullopt;
  auto v = read_value(*bytes);
  if (!v || v->permissions.empty()) return std::nullopt;
  return std::string(v->permissions);
}

std::vector<std::string> txn_ops::groups_of(std::span<const std::string_view> principals) const {
  std::vector<std::string> groups;
  const MDB_dbi dbi = dbs_->members;
  lmdb::cursor cur;
  if (!open_cursor(cur, dbi)) return groups;
  for (std::string_view principal : principals) {
    std::string prefix(principal);
    prefix += '\0';
    for (bool ok = positioned(cur.seek(prefix), dbi); ok && starts_with(cur.key(), prefix);
         ok = positioned(cur.next(), dbi)) {
      std::string_view group = cur.key().substr(prefix.size());
      if (std::find(groups.begin(), groups.end(), group) == groups.end()) groups.emplace_back(group);
    }
  }
  return groups;
}

void txn_ops::walk_all(const list_key& list, const std::function<bool(const change&)>& visit) const {
  const MDB_dbi dbi = dbs_->objects;
  lmdb::cursor cur;
  if (!open_cursor(cur, dbi)) return;
  const std::string prefix = list_prefix(list);
  for (bool ok = positioned(cur.seek(prefix), dbi); ok && starts_with(cur.key(), prefix);
       ok = positioned(cur.next(), dbi)) {
    auto v = read_value(cur.value());
    if (!v) continue;
    change c{v->last_modified, cur.key().substr(prefix.size()), v->deleted, v->data, v->permissions};
    if (!visit(c)) break;
  }
}

void txn_ops::walk(const list_key& list, std::uint64_t after, std::uint64_t before, bool newest_first,
                   const std::function<bool(const change&)>& visit,
                   const std::function<bool(std::string_view id)>& wanted) const {
  const MDB_dbi dbi = dbs_->changes;
  lmdb::cursor cur;
  if (!open_cursor(cur, dbi)) return;
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
  bool ok = positioned(newest_first ? cur.seek_before(upper) : cur.seek(lower), dbi);
  for (; ok && starts_with(cur.key(), prefix); ok = positioned(newest_first ? cur.prev() : cur.next(), dbi)) {
    std::uint64_t ts = read_be64(cur.key().substr(prefix.size()));
    if (newest_first ? ts <= after : (before != 0 && ts >= before)) break;
    std::string_view id = cur.value();
    if (wanted && !wanted(id)) continue;
    object_key.resize(prefix.size());
    object_key += id;
    auto bytes = lookup(dbs_->objects, object_key);
    if (!bytes) continue;
    auto v = read_value(*bytes);
    if (!v) continue;
    change c{ts, id, v->deleted, v->data, v->permissions};
    if (!visit(c)) break;
  }
}

void txn_ops::walk_grants(std::string_view principal, const list_key* list, const grant_visitor& visit) const {
  const MDB_dbi dbi = dbs_->grants;
  lmdb::cursor cur;
  if (!open_cursor(cur, dbi)) return;
  std::string prefix(principal);
  prefix += '\0';
  const std::size_t list_start = prefix.size();
  if (list) prefix += list_prefix(*list);
  list_key at;
  for (bool ok = positioned(cur.seek(prefix), dbi); ok && starts_with(cur.key(), prefix);
       ok = positioned(cur.next(), dbi)) {
    std::string_view rest;
    if (!split_list_prefix(cur.key().substr(list_start), at, rest) || rest.size() <= 8) continue;
    const std::string_view id = rest.substr(8);
    std::string_view names = cur.value();
    bool go_on = true;
    while (go_on && !names.empty()) {
      const auto comma = names.find(',');
      go_on = visit(at, id, names.substr(0, comma));
      names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
    }
    if (!go_on) break;
  }
}

std::optional<std::string> txn_ops::meta(std::string_view key) const {
  auto bytes = lookup(dbs_->meta, key);
  if (!bytes) return std::nullopt;
  return std::string(*bytes);
}

status txn_ops::update_grants(std::string_view prefix, std::string_view id, std::uint64_t old_stamp,
                              std::string_view before, std::uint64_t new_stamp, std::string_view after) {
  if (old_stamp == new_stamp && before == after) return status::ok;
  const grant_set old_grants = grants_of(before), new_grants = grants_of(after);
  const bool moved = old_stamp != new_stamp;
  for (const auto& [principal, names] : old_grants) {
    if (!moved && new_grants.count(principal)) continue; // rewritten below if its names changed
    if (int rc = remove(dbs_->grants, grant_key(principal, prefix, old_stamp, id)); rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
      return status_of(rc);
  }
  for (const auto& [principal, names] : new_grants) {
    if (!moved)
      if (auto it = old_grants.find(principal); it != old_grants.end() && it->second == names) continue;
    if (int rc = store(dbs_->grants, grant_key(principal, prefix, new_stamp, id), names); rc != MDB_SUCCESS)
      return status_of(rc);
  }
  return status::ok;
}

status txn_ops::put(const list_key& list, std::string_view id, const object& obj,
                    std::optional<std::uint64_t> previous) {
  const std::string prefix = list_prefix(list);
  std::string key = prefix;
  key += id;
  // The change entry to move is the stored version's. A write planned on
  // another version (one that never became durable, e.g. refused because the
  // map was full) would otherwise leave that entry behind, listing the object
  // twice, and carry changes that were refused: it is refused too.
  // What is read of the stored value is copied: LMDB's views of it end with
  // the transaction's next write.
  std::optional<std::uint64_t> stored;
  std::uint64_t old_stamp = 0;
  std::string old_permissions;
  if (auto bytes = lookup(dbs_->objects, key))
    if (auto old = read_value(*bytes)) {
      stored = old->last_modified;
      old_stamp = old->grant_stamp;
      old_permissions.assign(old->permissions);
    }
  if (failed()) return failure_;
  if (previous != stored) return status::stale;
  std::string change_key = prefix;
  append_be64(change_key, obj.last_modified);
  if (!stored || *stored != obj.last_modified) {
    // Timestamps are unique within a list: the change index is keyed by them.
    if (lookup(dbs_->changes, change_key)) return status::conflict;
    if (failed()) return failure_;
    if (stored) {
      std::string old_key = prefix;
      append_be64(old_key, *stored);
      if (int rc = remove(dbs_->changes, old_key); rc != MDB_SUCCESS) return status_of(rc);
    }
  }
  // Permissions keep the stamp they got when the object first had some, so
  // that an update touches the reverse index only when they change; a
  // created object's entries follow the list's newest, in the same pages.
  const std::string_view permissions =
      obj.deleted || no_permissions(obj.permissions) ? std::string_view() : std::string_view(obj.permissions);
  const bool had = !old_permissions.empty();
  const std::uint64_t stamp = permissions.empty() ? 0 : had ? old_stamp : obj.last_modified;
  if (status s = update_grants(prefix, id, old_stamp, old_permissions, stamp, permissions); s != status::ok) return s;
  if (int rc = store(dbs_->changes, change_key, id); rc != MDB_SUCCESS) return status_of(rc);
  return status_of(store(dbs_->objects, key, value_bytes(obj.last_modified, obj.deleted, stamp, permissions, obj.data)));
}

status txn_ops::rewrite_permissions(std::string_view prefix, std::string_view id, std::string_view permissions) {
  std::string key(prefix);
  key += id;
  auto bytes = lookup(dbs_->objects, key);
  auto current = bytes ? read_value(*bytes) : std::nullopt;
  if (!current || current->deleted) return failed() ? failure_ : status::missing;
  if (no_permissions(permissions)) permissions = "";
  // Copies, as the views end with the next write.
  const std::string data(current->data), old_permissions(current->permissions);
  const std::uint64_t last_modified = current->last_modified, old_stamp = current->grant_stamp;
  const std::uint64_t stamp = permissions.empty() ? 0 : !old_permissions.empty() ? old_stamp : last_modified;
  if (status s = update_grants(prefix, id, old_stamp, old_permissions, stamp, permissions); s != status::ok) return s;
  return status_of(store(dbs_->objects, key, value_bytes(last_modified, false, stamp, permissions, data)));
}

status txn_ops::set_list_timestamp(const list_key& list, std::uint64_t ts) {
  std::string value;
  append_be64(value, ts);
  return status_of(store(dbs_->timestamps, list_prefix(list), value));
}

status txn_ops::add_member(std::string_view principal, std::string_view group_uri) {
  return status_of(store(dbs_->members, member_key(principal, group_uri), {}));
}

status txn_ops::remove_member(std::string_view principal, std::string_view group_uri) {
  return status_of(remove(dbs_->members, member_key(principal, group_uri)));
}

status txn_ops::forget_grants_below(std::string_view prefix,
                                    std::vector<std::pair<std::string, std::string>>& memberships) {
  std::vector<std::string> grants;
  {
    const MDB_dbi dbi = dbs_->objects;
    lmdb::cursor cur;
    if (!open_cursor(cur, dbi)) return status::failed;
    list_key list;
    for (bool ok = positioned(cur.seek(prefix), dbi); ok && starts_with(cur.key(), prefix);
         ok = positioned(cur.next(), dbi)) {
      auto v = read_value(cur.value());
      std::string_view id;
      if (!v || v->deleted || !split_list_prefix(cur.key(), list, id)) continue;
      const std::string_view list_bytes = cur.key().substr(0, cur.key().size() - id.size());
      for (const auto& [principal, names] : grants_of(v->permissions))
        grants.push_back(grant_key(principal, list_bytes, v->grant_stamp, id));
      if (list.of != kind::group) continue;
      std::string err;
      auto data = json::parse(v->data, err);
      const json::value* members = data ? data->find("members") : nullptr;
      if (!members || !members->is_array()) continue;
      const std::string group_uri = list.object_uri(id);
      for (const auto& m : members->as_array())
        if (m.is_string()) memberships.emplace_back(m.as_string(), group_uri);
    }
  }
  if (failed()) return failure_;
  for (const auto& key : grants)
    if (int rc = remove(dbs_->grants, key); rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return status_of(rc);
  return status::ok;
}

status txn_ops::erase_children(std::string_view uri) {
  std::string direct(uri);
  direct += '\0';
  std::string deeper(uri);
  deeper += '/';
  // The reverse-index entries and group memberships of the objects below go
  // first, while the objects can still be read.
  std::vector<std::pair<std::string, std::string>> memberships;
  for (const std::string& prefix : {direct, deeper})
    if (status s = forget_grants_below(prefix, memberships); s != status::ok) return s;
  for (const auto& [principal, group_uri] : memberships)
    if (status s = remove_member(principal, group_uri); s != status::ok) return s;
  for (MDB_dbi dbi : {dbs_->objects, dbs_->changes, dbs_->timestamps}) {
    if (status s = erase_prefix(dbi, direct); s != status::ok) return s;
    if (status s = erase_prefix(dbi, deeper); s != status::ok) return s;
  }
  return status::ok;
}

status txn_ops::erase_object(const list_key& list, std::string_view id) {
  const std::string prefix = list_prefix(list);
  std::string key = prefix;
  key += id;
  auto bytes = lookup(dbs_->objects, key);
  if (!bytes) return failed() ? failure_ : status::ok; // nothing to erase
  if (auto v = read_value(*bytes)) {
    if (status s = update_grants(prefix, id, v->grant_stamp, v->permissions, 0, ""); s != status::ok) return s;
    std::string change_key = prefix;
    append_be64(change_key, v->last_modified);
    if (int rc = remove(dbs_->changes, change_key); rc != MDB_SUCCESS) return status_of(rc);
  }
  return status_of(remove(dbs_->objects, key));
}

status txn_ops::forget_principal(std::string_view principal) {
  std::vector<std::pair<list_key, std::string>> objects;
  walk_grants(principal, nullptr, [&](const list_key& list, std::string_view id, std::string_view) {
    if (objects.empty() || objects.back().second != id || !(objects.back().first == list)) objects.emplace_back(list, id);
    return true;
  });
  if (failed()) return failure_;
  for (const auto& [list, id] : objects) {
    const std::string prefix = list_prefix(list);
    auto bytes = lookup(dbs_->objects, prefix + id);
    if (failed()) return failure_;
    auto current = bytes ? read_value(*bytes) : std::nullopt;
    if (!current) continue;
    std::string err;
    auto perms = json::parse(current->permissions, err);
    if (!perms || !perms->is_object()) continue;
    json::value kept = json::value::object();
    for (const auto& [name, principals] : perms->as_object()) {
      if (!principals.is_array()) continue;
      json::value names = json::value::array();
      for (const auto& p : principals.as_array())
        if (!(p.is_string() && p.as_string() == principal)) names.as_array().push_back(p);
      if (!names.as_array().empty()) kept.set(name, std::move(names));
    }
    if (status s = rewrite_permissions(prefix, id, json::serialize(kept)); s != status::ok) return s;
  }
  std::string prefix(principal);
  prefix += '\0';
  return erase_prefix(dbs_->members, prefix);
}

status txn_ops::set_meta(std::string_view key, std::string_view value) {
  return status_of(store(dbs_->meta, key, value));
}

status txn_ops::erase_everything() {
  for (MDB_dbi dbi : {dbs_->objects, dbs_->changes, dbs_->timestamps, dbs_->grants, dbs_->members})
    if (int rc = wrote(dbi, mdb_drop(txn_, dbi, 0)); rc != MDB_SUCCESS) return status_of(rc);
  return status::ok;
}

/// `rc`, the answer of a transaction's begin or commit, once checked for a
/// fatal error of the environment.
int checked(int rc) {
  if (lmdb::is_fatal(rc)) lmdb::die("environment", rc);
  return rc;
}

// ---- the interface's classes ------------------------------------------------------


/// A read snapshot's view: owns its read-only transaction.
class read_view final : public view_over<txn_ops, view> {
public:
  read_view(lmdb::txn txn, const databases& dbs) : view_over(txn_ops(txn.get(), dbs)), txn_(std::move(txn)) {}

private:
  lmdb::txn txn_;
};


/// A nested transaction of the write transaction.
class lmdb_savepoint final : public writer_over<txn_ops, savepoint> {
public:
  lmdb_savepoint(lmdb::txn txn, const databases& dbs) : writer_over(txn_ops(txn.get(), dbs)), txn_(std::move(txn)) {}

  status release() override {
    status s = ops_.failure();
    if (s == status::ok) s = status_of(checked(txn_.commit()));
    txn_.abort();
    ops_.finish();
    return s;
  }

private:
  lmdb::txn txn_;
};

class lmdb_write_transaction final : public writer_over<txn_ops, write_transaction> {
public:
  lmdb_write_transaction(MDB_env* env, lmdb::txn txn, const databases& dbs)
      : writer_over(txn_ops(txn.get(), dbs)), env_(env), dbs_(dbs), txn_(std::move(txn)) {}

  std::unique_ptr<savepoint> open_savepoint() override {
    if (ops_.failure() != status::ok) return nullptr;
    lmdb::txn nested;
    if (checked(nested.begin(env_, false, txn_.get())) != MDB_SUCCESS) return nullptr;
    return std::make_unique<lmdb_savepoint>(std::move(nested), dbs_);
  }

  void commit(std::function<void(status)> done) override {
    status s = ops_.failure();
    if (s == status::ok) s = status_of(checked(txn_.commit())); // durable: the env syncs on commit
    txn_.abort();
    ops_.finish();
    done(s);
  }

private:
  MDB_env* env_;
  const databases& dbs_;
  lmdb::txn txn_;
};

// ---- the engine -----------------------------------------------------------------

class lmdb_engine final : public engine {
public:
  snapshot read() const override {
    lmdb::txn txn;
    if (checked(txn.begin(env_.get(), true)) != MDB_SUCCESS) return snapshot();
    return snapshot(std::make_unique<read_view>(std::move(txn), dbs_));
  }

  status begin_write(std::unique_ptr<write_transaction>& txn) override {
    lmdb::txn t;
    if (int rc = checked(t.begin(env_.get(), false)); rc != MDB_SUCCESS) return status_of(rc);
    txn = std::make_unique<lmdb_write_transaction>(env_.get(), std::move(t), dbs_);
    return status::ok;
  }

  const key_limits& keys() const override { return limits_; }

  std::optional<lmdb_figures> figures() const;

  /// Says to `kintod restore` that a server has the directory open.
  std::unique_ptr<data_dir_lock> lock_;
  lmdb::env env_;
  databases dbs_;
  key_limits limits_;
};

std::optional<lmdb_figures> lmdb_engine::figures() const {
  lmdb_figures f;
  f.max_key_bytes = static_cast<std::size_t>(mdb_env_get_maxkeysize(env_.get()));
  MDB_envinfo info{};
  MDB_stat env_stat{};
  if (mdb_env_info(env_.get(), &info) != MDB_SUCCESS || mdb_env_stat(env_.get(), &env_stat) != MDB_SUCCESS)
    return std::nullopt;
  f.used_bytes = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * env_stat.ms_psize;
  lmdb::txn txn;
  if (txn.begin(env_.get(), true) != MDB_SUCCESS) return std::nullopt;
  MDB_stat s{};
  if (mdb_stat(txn.get(), dbs_.objects, &s) != MDB_SUCCESS) return std::nullopt;
  f.objects_depth = s.ms_depth;
  if (mdb_stat(txn.get(), dbs_.changes, &s) != MDB_SUCCESS) return std::nullopt;
  f.changes_depth = s.ms_depth;
  return f;
}

/// Brings a format 1 directory to the current format inside `txn`, the
/// transaction that opened the databases: the permissions of each object,
/// kept in format 1 in a database of their own keyed by object URI, move
/// into the object's value, and the reverse index is rebuilt in the new
/// key layout. Nothing is kept unless `txn` commits.
status upgrade_from_format_1(MDB_txn* txn, const databases& dbs, MDB_dbi old_permissions, const lmdb_options& options,
                             std::string& error) {
  const auto started = std::chrono::steady_clock::now();
  MDB_stat stat{};
  if (int rc = mdb_stat(txn, old_permissions, &stat); rc != MDB_SUCCESS) {
    error = std::string("cannot read the permissions database: ") + mdb_strerror(rc);
    return status::failed;
  }
  const std::size_t total = stat.ms_entries;
  auto say = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  say("storage: upgrading " + options.directory + " from storage format 1 to " + std::string(current_format) + " (" +
      std::to_string(total) + " objects with permissions)");
  if (int rc = mdb_drop(txn, dbs.grants, 0); rc != MDB_SUCCESS) {
    error = std::string("cannot empty the grants database: ") + mdb_strerror(rc);
    return status_of(rc);
  }
  txn_ops ops(txn, dbs);
  std::size_t done = 0, orphans = 0;
  {
    lmdb::cursor cur;
    if (int rc = cur.open(txn, old_permissions); rc != MDB_SUCCESS) {
      error = std::string("cannot read the permissions database: ") + mdb_strerror(rc);
      return status::failed;
    }
    int rc = cur.first();
    for (; rc == MDB_SUCCESS; rc = cur.next()) {
      const std::string uri(cur.key()), permissions(cur.value());
      auto at = owner_of(uri);
      status s = at ? ops.rewrite_permissions(list_prefix(at->list), at->id, permissions) : status::missing;
      if (s == status::missing) {
        ++orphans; // permissions of no live object: format 1 left none, and nothing could reach them
      } else if (s != status::ok) {
        error = "cannot move the permissions of " + uri + ": " + std::string(status_text(s));
        return s;
      }
      if (++done % 100000 == 0) say("storage: upgrade: " + std::to_string(done) + " of " + std::to_string(total));
    }
    if (rc != MDB_NOTFOUND) {
      error = std::string("cannot read the permissions database: ") + mdb_strerror(rc);
      return status::failed;
    }
  }
  if (int rc = mdb_drop(txn, old_permissions, 1); rc != MDB_SUCCESS) {
    error = std::string("cannot remove the permissions database: ") + mdb_strerror(rc);
    return status_of(rc);
  }
  if (status s = ops.set_meta(format_key, current_format); s != status::ok) {
    error = "cannot record the storage format: " + std::string(status_text(s));
    return s;
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  say("storage: upgrade done: " + std::to_string(done - orphans) + " objects with permissions moved" +
      (orphans ? ", " + std::to_string(orphans) + " permissions of absent objects dropped" : std::string()) + ", " +
      std::to_string(ms) + " ms before commit");
  return status::ok;
}

} // namespace

std::unique_ptr<engine> open_lmdb(const lmdb_options& options, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(options.directory, ec);
  if (ec) {
    error = "cannot create data directory " + options.directory + ": " + ec.message();
    return nullptr;
  }
  auto e = std::make_unique<lmdb_engine>();
  e->lock_ = std::make_unique<data_dir_lock>(options.directory, error);
  if (!e->lock_->held()) return nullptr;
  if (int rc = e->env_.open(options.directory, options.map_size, 16, options.max_readers); rc != MDB_SUCCESS) {
    error = "cannot open LMDB environment in " + options.directory + ": " + mdb_strerror(rc);
    return nullptr;
  }
  e->limits_ = lmdb_key_limits(static_cast<std::size_t>(mdb_env_get_maxkeysize(e->env_.get())));
  lmdb::txn txn;
  if (int rc = txn.begin(e->env_.get(), false); rc != MDB_SUCCESS) {
    error = std::string("cannot begin transaction: ") + mdb_strerror(rc);
    return nullptr;
  }
  struct named {
    const char* name;
    MDB_dbi* dbi;
  };
  for (named n : {named{"objects", &e->dbs_.objects}, named{"changes", &e->dbs_.changes},
                  named{"timestamps", &e->dbs_.timestamps}, named{"grants", &e->dbs_.grants},
                  named{"members", &e->dbs_.members}, named{"meta", &e->dbs_.meta}}) {
    if (int rc = mdb_dbi_open(txn.get(), n.name, MDB_CREATE, n.dbi); rc != MDB_SUCCESS) {
      error = std::string("cannot open database ") + n.name + ": " + mdb_strerror(rc);
      return nullptr;
    }
  }
  // The storage format: recorded since format 2; format 1 is known by its
  // database of permissions; a new directory gets the current one.
  std::string_view format;
  int rc = lmdb::get(txn.get(), e->dbs_.meta, format_key, format);
  if (rc == MDB_NOTFOUND) {
    MDB_dbi old_permissions = 0;
    rc = mdb_dbi_open(txn.get(), "permissions", 0, &old_permissions);
    if (rc == MDB_SUCCESS) {
      if (upgrade_from_format_1(txn.get(), e->dbs_, old_permissions, options, error) != status::ok) {
        error = "cannot upgrade " + options.directory + " from storage format 1: " + error +
                " (nothing was changed; with a full map, raise storage_map_size)";
        return nullptr;
      }
    } else if (rc == MDB_NOTFOUND) {
      rc = lmdb::put(txn.get(), e->dbs_.meta, format_key, current_format);
    }
  } else if (rc == MDB_SUCCESS && format != current_format) {
    error = options.directory + " holds data in storage format " + std::string(format) +
            ", which this kintod (storage format " + std::string(current_format) +
            ") cannot read: run the newer kintod that wrote it";
    return nullptr;
  }
  if (rc != MDB_SUCCESS) {
    error = std::string("cannot read the storage format: ") + mdb_strerror(rc);
    return nullptr;
  }
  if (rc = txn.commit(); rc != MDB_SUCCESS) {
    error = std::string("cannot commit: ") + mdb_strerror(rc);
    return nullptr;
  }
  return e;
}

std::optional<lmdb_figures> figures_of(const engine& e) {
  const auto* lmdb = dynamic_cast<const lmdb_engine*>(&e);
  if (!lmdb) return std::nullopt;
  return lmdb->figures();
}

} // namespace kinto::storage
