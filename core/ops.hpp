// Kinto's operations, with no transport: a typed request in, its value or
// a refusal out. The HTTP edge parses a request into one of these, runs it
// on a port and renders what comes back; a batch runs the same operations
// in its transaction (op_batch). Every decision that depends on stored
// state (who the caller is, permissions, existence, validation) is taken
// here, on the view the operation runs on, so that an operation means the
// same on its own and inside a batch.
#pragma once

#include "core/access.hpp"
#include "core/port.hpp"
#include "core/rules.hpp"
#include "core/validation.hpp"
#include "core/write_rules.hpp"
#include "schema/query.hpp"
#include "storage/listing.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace kinto::core {

/// Nonces of plural-DELETE pagination tokens: each may be used once, within
/// `pagination_token_validity_seconds`.
class token_registry {
public:
  explicit token_registry(std::chrono::seconds validity) : validity_(validity) {}
  void remember(const std::string& nonce);
  /// True (and forgotten) when the nonce is known and still valid.
  bool consume(const std::string& nonce);

private:
  std::chrono::seconds validity_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> expiry_;
};

/// What operations share besides their request: the rules, compiled
/// schemas, deletion tokens, and where an operation continues after its
/// port answered asynchronously (the request's executor; inline in a
/// transaction, where everything is synchronous).
struct context {
  const rules& cfg;
  schema_cache& schemas;
  token_registry& deletion_tokens;
  std::function<void(std::function<void()>)> resume;
};

/// A refusal: the error, and the target's timestamp when it has one to
/// tell (a 412 carries it as ETag).
struct failure {
  error e;
  std::uint64_t last_modified = 0;
};

template <class T>
using result = std::variant<T, failure>;

/// `done`, answering 503 (errno 201) in place of what it is given when a
/// read of `v` failed meanwhile (storage::view::failed()): a refusal or a
/// "not found" read from a database that went away is not an answer. For
/// answers given while `v` and `done` live (the two are held by
/// reference).
template <class T>
auto trusted(const storage::view& v, const std::function<void(result<T>)>& done) {
  return [&v, &done](result<T> r) {
    if (v.failed()) return done(failure{backend_unavailable()});
    done(std::move(r));
  };
}

/// An object a request uses without naming it, created first when missing
/// (the personal bucket and its collection, batch-and-plugins.md §2).
struct implicit_object {
  list_key list;
  std::string id;
};

// ---- one object ------------------------------------------------------------

struct object_read {
  std::string user_id; ///< empty when anonymous
  list_key list;
  std::string id;
  preconditions pre;
  std::optional<std::uint64_t> if_none_match; ///< a quoted timestamp
  std::optional<std::vector<std::string>> fields; ///< `_fields`
  /// A malformed header or parameter: answered, as upstream does, once the
  /// caller may learn that the object exists.
  std::optional<error> invalid;
  std::vector<implicit_object> implicit;
};

struct object_found {
  std::uint64_t last_modified = 0;
  bool not_modified = false;     ///< If-None-Match named this version (304)
  std::string data;              ///< JSON text, projected on `_fields`
  std::string permissions = "{}"; ///< shown to writers only
  std::optional<std::int64_t> cache_seconds; ///< see cache_seconds()
};

/// A write of one object: `cmd.op` says which (create is a POST on the
/// plural endpoint). The caller's principals and the author are found by
/// the operation; passwords arrive hashed.
struct object_write {
  std::string user_id;
  list_key list;
  write_command cmd;
  /// PATCH: what was sent, and `Response-Behavior` (full, light, diff).
  std::optional<json::value> sent;
  std::string behaviour = "full";
  /// A malformed part of the request: answered after a missing collection
  /// (resources.md §8), before permissions.
  std::optional<error> invalid;
  std::vector<implicit_object> implicit;
};

struct object_written {
  bool created = false;
  bool removed = false;
  std::uint64_t last_modified = 0;
  std::string data;              ///< the stored object, tombstone or PATCH answer
  std::string permissions = "{}"; ///< shown to writers only
};

void op_get(const context& ctx, port& p, object_read req, std::function<void(result<object_found>)> done);
void op_write(const context& ctx, port& p, object_write req, std::function<void(result<object_written>)> done);

// ---- lists ----------------------------------------------------------------

/// Which objects of a list a plural request is about, as reads and
/// deletions of lists share it.
struct list_selection {
  std::string user_id;
  list_key list;
  query::request q;
  preconditions pre;
  std::size_t limit = 0;               ///< page size (page_size())
  std::optional<query::token> after;   ///< from `_token`
  /// A malformed query or header: answered once the caller may use the list.
  std::optional<error> invalid;
  std::vector<implicit_object> implicit;
};

/// Reading a page of a list (GET), or counting it (HEAD).
struct list_read : list_selection {
  std::optional<std::uint64_t> if_none_match;
  bool count_only = false;
};

struct list_page {
  std::uint64_t list_timestamp = 0;
  bool not_modified = false;
  std::optional<std::int64_t> cache_seconds;
  std::size_t total = 0;               ///< count_only
  std::vector<std::string> objects;    ///< JSON texts, projected on `_fields`
  std::optional<query::token> next;    ///< the Next-Page token
};

/// Deleting a page of a list (plural DELETE, querying.md §8).
/// Deleting a page of a list; the token's nonce must be one handed out.
struct list_removal : list_selection {};

struct list_removed {
  std::uint64_t last_modified = 0;    ///< the newest of the removals, or the list's
  std::vector<std::string> tombstones; ///< in the page's order
  std::optional<query::token> next;
};

void op_list(const context& ctx, port& p, list_read req, std::function<void(result<list_page>)> done);
/// Whether the caller may follow the list's changes (core::feed), decided
/// as a read of it: the list's timestamp, or the refusal (and a malformed
/// query, answered as a read answers it).
void op_watch(const context& ctx, port& p, list_selection req, std::function<void(result<std::uint64_t>)> done);
void op_delete_list(const context& ctx, port& p, list_removal req, std::function<void(result<list_removed>)> done);

/// What the caller `user_id` may see of `list`, decided on `v` as a GET of
/// the list decides (auth-permissions.md §6): which objects (empty: all),
/// valid while `v` is; or the refusal (401, 403, a missing parent).
result<storage::visibility> list_visibility(const rules& cfg, const std::string& user_id, const list_key& list,
                                            const storage::view& v);

/// The page size of a plural request (querying.md §4.2).
std::size_t page_size(const rules& r, const query::request& q);

// ---- server-wide ----------------------------------------------------------

/// GET /permissions (auth-permissions.md §8): every object on which the
/// caller's principals appear, with the names they imply, plus what settings
/// grant; as entries (`uri`, `resource_name`, `id`, the ids of its parents,
/// `permissions`) matching `q`'s filters, in its order.
struct permissions_read {
  std::string user_id;
  query::request q;
  std::optional<error> invalid; ///< a malformed query, answered to callers who may read permissions
};

void op_permissions(const context& ctx, port& p, permissions_read req,
                    std::function<void(result<std::vector<json::value>>)> done);

/// DELETE /__user_data__/{principal} (batch-and-plugins.md §7), for
/// callers holding `user_data_delete_principals`.
struct user_data_removal {
  std::string user_id;
  std::string principal;
};

void op_delete_user_data(const context& ctx, port& p, user_data_removal req, std::function<void(result<bool>)> done);

/// POST /__flush__: everything goes, after the writes already queued.
void op_flush(port& p, std::function<void(result<bool>)> done);

/// GET /__heartbeat__: whether storage reads, and, when `write`, whether it
/// durably writes `stamp` (so that a full disk shows).
void op_heartbeat(port& p, bool write, std::string stamp, std::function<void(bool readable, bool writable)> done);

/// The records of a collection as they were at a timestamp, from its
/// bucket's history (GET /buckets/{b}/snapshot/collections/{c}@{ts}),
/// newest first.
struct history_snapshot_read {
  std::string user_id;
  std::string bucket_id, collection_id;
  std::uint64_t at = 0;
  std::vector<implicit_object> implicit;
};

void op_history_snapshot(const context& ctx, port& p, history_snapshot_read req,
                         std::function<void(result<std::vector<std::string>>)> done);

/// The caller `user_id` with its principals, as stored now.
caller op_caller(port& p, std::string user_id);

/// The stored bcrypt hash of the account `id`, if it has one.
std::optional<std::string> op_account_hash(port& p, const std::string& id);

// ---- the changes plugin (batch-and-plugins.md §10) -------------------------

/// One collection the plugin monitors, with its records' timestamp.
struct monitored_collection {
  std::string bucket, collection;
  std::uint64_t timestamp = 0;
};

/// The collections `changes.resources` names, directly or through their
/// bucket, less the excluded ones, that exist in `v` and whose records list
/// has a timestamp; in bucket then collection order.
std::vector<monitored_collection> monitored(const changes_options& cfg, const storage::view& v);

/// The entry of monitor/changes for a collection: `{id, last_modified,
/// bucket, collection, host}`, its id the UUID of MD5(host + collection URI).
json::value change_entry(const std::string& host, const monitored_collection& m);

/// GET /buckets/monitor/collections/changes/records: a read-only list any
/// caller may read, of the entries of the monitored collections, queried
/// as any list is (filters, `_since`, sorting, pages). Its timestamp is the
/// newest entry's, or now when there is none; If-None-Match on it answers an
/// empty page (not a 304: caches keep 200s).
struct monitor_read {
  query::request q;
  preconditions pre;
  std::size_t limit = 0;
  std::optional<query::token> after;
  std::optional<std::uint64_t> if_none_match;
  bool count_only = false;
  std::optional<error> invalid;
};

void op_monitor_changes(const context& ctx, port& p, monitor_read req, std::function<void(result<list_page>)> done);

/// GET /buckets/{bid}/collections/{cid}/changeset: what a synchronising
/// client needs at once, from one view: the collection, the records
/// timestamp and the records (with tombstones after `since`), newest first.
/// Needs `read` on the collection; monitor/changes is public and answers
/// its entries (optionally of one bucket, one collection).
struct changeset_read {
  std::string user_id;
  std::string bucket_id, collection_id;
  std::optional<std::uint64_t> since;
  std::size_t limit = 0;
  std::optional<std::string> bucket_filter, collection_filter; ///< monitor/changes only
  std::optional<error> invalid; ///< answered once the caller may read the collection
  std::vector<implicit_object> implicit;
};

struct changeset {
  std::string metadata;            ///< JSON object: the collection's data, with `bucket`
  std::uint64_t timestamp = 0;     ///< the records list's
  std::uint64_t last_modified = 0; ///< the collection's (monitor/changes: its timestamp)
  std::vector<std::string> changes;
};

void op_changeset(const context& ctx, port& p, changeset_read req, std::function<void(result<changeset>)> done);

/// GET /__broadcasts__: the newest timestamp of the monitored collections
/// (leaving out those whose bucket or collection id has `-preview`), as a
/// push service pulls it; 0 when there is none. A new timestamp is
/// published only when the last one is older than the interval and the new
/// one either comes that long after it or is itself that old (debounce);
/// what was published is forgotten after a day.
class broadcast_debounce {
public:
  explicit broadcast_debounce(std::chrono::seconds interval) : interval_ms_(interval.count() * 1000) {}
  /// The timestamp to publish at `now_ms`; `newest` is asked only when a
  /// new one may be published.
  std::uint64_t publish(std::uint64_t now_ms, const std::function<std::uint64_t()>& newest);

private:
  std::int64_t interval_ms_;
  std::mutex mutex_;
  std::optional<std::uint64_t> published_;
  std::uint64_t published_at_ = 0;
};

struct broadcast_read {
  broadcast_debounce* debounce = nullptr;
};

void op_broadcast(const context& ctx, port& p, broadcast_read req, std::function<void(result<std::uint64_t>)> done);

// ---- batches --------------------------------------------------------------

/// One operation of a batch, ready to run on a port; whoever made it keeps
/// its outcome. `settled` gets the HTTP status of the outcome, for the
/// batch's rules.
using operation = std::function<void(port& p, std::function<void(int status)> settled)>;

/// Runs a batch's operations in order (batch-and-plugins.md §1.4). A batch
/// that writes runs in one transaction: a 409 drops what came before it, a
/// 5xx drops everything and ends the batch; what is kept is durable before
/// `done`. Otherwise each runs on `p` in turn, a 5xx ending the batch.
/// `done` gets how many ran and the transaction's status.
void op_batch(port& p, std::vector<operation> ops, bool writes,
              std::function<void(std::size_t ran, storage::status s)> done);

} // namespace kinto::core
