// Kinto's data in one LMDB environment: objects and tombstones, the change
// index by timestamp, list timestamps, permissions and group memberships.
// The key layout is documented in storage/README.md. Knows nothing of actors
// or HTTP; no exception leaves this module.
#pragma once

#include "schema/resource.hpp"
#include "storage/lmdb.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kinto::storage {

/// Outcome of a write operation.
enum class status : std::uint8_t {
  ok,
  conflict, ///< a uniqueness rule would break (e.g. a timestamp already used in the list)
  missing,  ///< an object the write depends on (its parent) does not exist
  full,     ///< the map is full: nothing more can be written
  failed,   ///< I/O or other LMDB failure
};

/// One stored object or tombstone.
struct object {
  std::uint64_t last_modified = 0;
  bool deleted = false;
  std::string data; ///< JSON text of `data` (with id and last_modified); empty for tombstones
};

/// One entry met while walking a list by timestamp. Views live until the
/// transaction ends or writes.
struct change {
  std::uint64_t last_modified;
  std::string_view id;
  bool deleted;
  std::string_view data;
};

struct databases {
  MDB_dbi objects = 0, changes = 0, timestamps = 0, permissions = 0, grants = 0, members = 0, meta = 0;
};

/// Read operations over a transaction (read-only or write).
class view {
public:
  view(MDB_txn* txn, const databases& dbs) : txn_(txn), dbs_(&dbs) {}

  /// The object or tombstone `id` of the list; nullopt when never written.
  std::optional<object> get(const list_key& list, std::string_view id) const;
  /// Timestamp of the list, nullopt when it never had one.
  std::optional<std::uint64_t> list_timestamp(const list_key& list) const;
  /// Permissions of an object as a JSON object text; nullopt when it has none.
  std::optional<std::string> permissions(std::string_view uri) const;
  /// Group URIs whose members include `principal`.
  std::vector<std::string> groups_of(std::string_view principal) const;
  /// Walks the list by timestamp over (after, before), newest or oldest
  /// first; `before` 0 means no upper bound. Tombstones are included. Stops
  /// when `visit` returns false. Costs what it visits, not the list size.
  /// `wanted`, when given, is asked about each id first: the object of an
  /// unwanted id is not even read.
  void walk(const list_key& list, std::uint64_t after, std::uint64_t before, bool newest_first,
            const std::function<bool(const change&)>& visit,
            const std::function<bool(std::string_view id)>& wanted = {}) const;
  /// Walks every object and tombstone of the list in id order: the cheapest
  /// way through a whole list (no lookup per entry).
  void walk_all(const list_key& list, const std::function<bool(const change&)>& visit) const;
  /// Object URIs starting with `uri_prefix` on which `principal` appears in
  /// some permission, with that permission's name (the reverse index of
  /// permissions), in URI order. Stops when `visit` returns false.
  void walk_grants(std::string_view principal, std::string_view uri_prefix,
                   const std::function<bool(std::string_view uri, std::string_view name)>& visit) const;
  /// A value of the meta database (server-wide facts such as secrets).
  std::optional<std::string> meta(std::string_view key) const;

  MDB_txn* txn() const { return txn_; }
  /// How many times permissions() was called on this view (diagnostics:
  /// the cost of permission filtering is counted in lookups).
  std::uint64_t permission_lookups() const { return permission_lookups_; }

protected:
  MDB_txn* txn_;
  const databases* dbs_;
  mutable std::uint64_t permission_lookups_ = 0;
};

/// Write operations inside a write transaction owned by the caller.
class batch : public view {
public:
  using view::view;

  /// Stores the object (or tombstone) `id` and moves its entry in the change
  /// index from the stored version's timestamp to its new one. `previous` is
  /// the timestamp of the version the write was planned on, if any: when the
  /// stored version is another one, `conflict` and nothing is written.
  /// `conflict` too when another object of the list already has the new
  /// timestamp.
  [[nodiscard]] status put(const list_key& list, std::string_view id, const object& obj,
                           std::optional<std::uint64_t> previous);
  [[nodiscard]] status set_list_timestamp(const list_key& list, std::uint64_t ts);
  /// Stores the permissions (a JSON object text), or erases them when empty,
  /// keeping the reverse index (principal -> objects) in step.
  [[nodiscard]] status set_permissions(std::string_view uri, std::string_view json_object);
  [[nodiscard]] status add_member(std::string_view principal, std::string_view group_uri);
  [[nodiscard]] status remove_member(std::string_view principal, std::string_view group_uri);
  /// Removes everything below the object `uri`: its child lists with their
  /// objects, tombstones, timestamps, permissions, and the memberships of
  /// groups among them. The object itself is left to the caller.
  [[nodiscard]] status erase_children(std::string_view uri);
  /// Removes an object and its change-index entry without a tombstone, and
  /// its permissions (for trimming).
  [[nodiscard]] status erase_object(const list_key& list, std::string_view id);
  /// Removes `principal` from every permission and group membership.
  [[nodiscard]] status forget_principal(std::string_view principal);
  [[nodiscard]] status set_meta(std::string_view key, std::string_view value);
  /// Removes every piece of data (flush).
  [[nodiscard]] status erase_everything();
};

/// A read snapshot; owns its read-only transaction, or borrows the view of
/// a transaction someone else owns (a batch session's own writes).
class snapshot : public view {
public:
  snapshot(lmdb::txn txn, const databases& dbs) : view(txn.get(), dbs), owned_(std::move(txn)) {}
  explicit snapshot(const view& borrowed) : view(borrowed), borrowed_(true) {}
  bool valid() const { return borrowed_ || owned_.active(); }

private:
  lmdb::txn owned_;
  bool borrowed_ = false;
};

/// How long the strings keys are built from may be, so that every key of
/// the layout (storage/README.md) fits in the engine's keys: the longest is
/// a principal and an object URI together in the reverse index of
/// permissions (`grants`), for a bucket the grant on one of its history
/// entries. A write of a longer URI or principal would fail in LMDB
/// (MDB_BAD_VALSIZE); writers refuse it before it gets here.
class key_limits {
public:
  /// Limits for an engine whose keys hold at most `key_bytes` bytes.
  explicit key_limits(std::size_t key_bytes);
  /// The engine's longest key (LMDB: mdb_env_get_maxkeysize, 511 unless
  /// LMDB was built otherwise).
  std::size_t key_bytes() const { return key_bytes_; }
  /// Longest principal (user id, group URI, system principal) in a
  /// permission or among a group's members: as long as the longest group
  /// URI, so that any group can be named.
  std::size_t principal_bytes() const { return principal_bytes_; }
  /// Longest URI of an object of kind `k` ("/buckets/b/collections/c").
  std::size_t uri_bytes(kind k) const;
  bool uri_fits(const list_key& list, std::string_view id) const;
  bool principal_fits(std::string_view principal) const { return principal.size() <= principal_bytes_; }

private:
  std::size_t key_bytes_;
  std::size_t principal_bytes_;
};

/// Bytes of the id of a history entry (a UUID4): part of its URI, hence of
/// its keys.
inline constexpr std::size_t history_entry_id_bytes = 36;

struct store_options {
  std::string directory;                               ///< created if missing
  std::size_t map_size = std::size_t(1) << 36;          ///< 64 GiB of sparse address space
  unsigned max_readers = 512;
};

/// The LMDB environment and its databases, opened at start.
class store {
public:
  /// Opens (creating if needed) the store; nullopt with `error` set on failure.
  [[nodiscard]] static std::unique_ptr<store> open(const store_options& options, std::string& error);

  /// A read snapshot; check valid() (false when LMDB cannot begin a txn).
  snapshot read() const;
  /// Begins the write transaction; one at a time per process.
  [[nodiscard]] int begin_write(lmdb::txn& txn) const { return txn.begin(env_.get(), false); }
  const databases& dbs() const { return dbs_; }
  MDB_env* env() const { return env_.get(); }
  /// What fits in this environment's keys.
  const key_limits& keys() const { return limits_; }

private:
  store() : limits_(0) {}
  lmdb::env env_;
  databases dbs_;
  key_limits limits_;
};

/// Maps an LMDB return code to a status.
status status_of(int rc);

/// Key helpers (see storage/README.md).
std::string list_prefix(const list_key& list);
std::string encode_object(const object& obj);
std::optional<object> decode_object(std::string_view bytes);

} // namespace kinto::storage
