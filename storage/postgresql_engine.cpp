// The PostgreSQL engine. Objects and tombstones are rows of `objects`
// (data without id and last_modified, as upstream keeps them; a tombstone's
// data is {"deleted": true}), list timestamps rows of `timestamps`,
// permissions rows of `access_control_entries` (object URI, permission,
// principal), memberships rows of `user_principals` (member, group URI).
// kintod's own server-wide facts (secrets, counters) are in `kintod_meta`.
//
// A list's timestamp is what upstream says it is: the newest of its objects'
// and of its `timestamps` row. A write transaction serializes the writers
// of a list across every head: the first time it reads a list's timestamp
// it takes a transaction-level advisory lock on the list, so the timestamp
// it reads stays the newest until it commits (upstream processes meet the
// lock on the `timestamps` row instead).
//
// Reads run on pooled connections, each snapshot in a REPEATABLE READ, READ
// ONLY transaction; the write transaction has its own connection. A lost
// connection is replaced on the next use, so kintod carries on once the
// database is back.
#include "storage/postgresql_engine.hpp"

#include "base/json.hpp"
#include "storage/engine_ops.hpp"
#include "storage/lmdb_engine.hpp"
#include "storage/postgresql.hpp"
#include "storage/postgresql_schema.hpp"

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

namespace kinto::storage {

namespace {

using clock = std::chrono::steady_clock;

/// Far past any stored timestamp, and still a valid PostgreSQL TIMESTAMP
/// (9999-12-31).
constexpr std::uint64_t end_of_time = 253402300799999;

std::string text_of(std::uint64_t n) { return std::to_string(n); }

std::optional<std::uint64_t> number_of(std::string_view text) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

/// `text` as a LIKE pattern matching itself.
std::string like_escaped(std::string_view text) {
  std::string out;
  for (char ch : text) {
    if (ch == '\\' || ch == '%' || ch == '_') out += '\\';
    out += ch;
  }
  return out;
}

/// A kintod meta key as a TEXT value (which cannot hold NUL bytes).
std::string meta_name(std::string_view key) {
  std::string name(key);
  for (char& ch : name)
    if (ch == '\0') ch = '\x1f';
  return name;
}

/// The lock key of a list, or of a meta key, for pg_advisory_xact_lock.
std::string lock_name(std::string_view what, std::string_view name) {
  std::string key(what);
  key += ':';
  key += name;
  return key;
}

/// Where a list's rows are, in SQL: the predicate on `objects` and on
/// `timestamps`, the parameter `parent` (`$1` unless named) being the list's
/// parent. Accounts are one list, but each account is its own parent in
/// upstream's rows (parent_id = id), and `parent` (always '') only keeps
/// the parameter typed.
struct list_where {
  std::string objects;
  std::string timestamps;
};

list_where where_of(kind k, const std::string& parent = "$1") {
  if (k == kind::account)
    return {"resource_name = 'account' AND parent_id = id AND " + parent + "::text = ''",
            "resource_name = 'account' AND " + parent + "::text = ''"};
  const std::string name(kind_name(k));
  const std::string where = "parent_id = " + parent + " AND resource_name = '" + name + "'";
  return {where, where};
}

/// The parent_id of an object's row: the list's parent, or for an account
/// the account itself.
std::string row_parent(const list_key& list, std::string_view id) {
  return list.of == kind::account ? std::string(id) : list.parent;
}

/// The permissions of the object whose URI is the SQL expression `uri`, as
/// a JSON object text, NULL when it has none.
std::string permissions_of(const std::string& uri) {
  return "(SELECT jsonb_object_agg(permission, principals)::text FROM (SELECT permission, jsonb_agg(principal ORDER "
         "BY principal) AS principals FROM access_control_entries WHERE object_id = " +
         uri + " GROUP BY permission) AS granted)";
}

/// as_epoch(column) of upstream's schema, written out: the same value,
/// without a call into PL/pgSQL for every row.
std::string epoch_of(const std::string& column) {
  return "(EXTRACT(EPOCH FROM " + column + ") * 1000)::BIGINT";
}

/// from_epoch(parameter) of upstream's schema, written out (in UTC, as
/// kintod's sessions are).
std::string time_of(const std::string& parameter) {
  return "(TIMESTAMP 'epoch' + " + parameter + "::BIGINT * INTERVAL '1 millisecond')";
}

/// `items` as the text of a PostgreSQL array of TEXT.
template <class Items> std::string array_of(const Items& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char ch : std::string_view(item)) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

/// The data of a row as kintod keeps it: the stored data with id first and
/// last_modified last.
std::string data_of(std::string_view id, std::uint64_t last_modified, std::string_view stored) {
  std::string data = "{\"id\":";
  json::quote_to(id, data);
  // `stored` is a JSON object's text: "{}" or "{...}".
  if (stored.size() > 2) {
    data += ',';
    data.append(stored.substr(1, stored.size() - 2));
  }
  data += ",\"last_modified\":";
  data += text_of(last_modified);
  data += '}';
  return data;
}

/// The object `id` from the text of its columns: timestamp (empty: there
/// is none), stored data; without its permissions.
std::optional<object> object_of(std::string_view timestamp, bool deleted, std::string_view data,
                                std::string_view id) {
  const auto ts = number_of(timestamp);
  if (!ts) return std::nullopt;
  object found;
  found.last_modified = *ts;
  found.deleted = deleted;
  if (!deleted) found.data = data_of(id, *ts, data);
  return found;
}

/// The object `id` in row `row` of `r`, from the columns at `column`:
/// timestamp (NULL: there is none), deleted, stored data, permissions.
std::optional<object> object_in(const pg::result& r, int row, int column, std::string_view id) {
  auto found = object_of(r.text(row, column), r.text(row, column + 1) == "t", r.text(row, column + 2), id);
  if (found && !found->deleted) found->permissions = std::string(r.text(row, column + 3));
  return found;
}

/// The groups of `memberships` (each a member's place among the members
/// asked about, and a group), as groups_of_any() answers: member by
/// member, then by name (bytewise), each group once.
std::vector<std::string> groups_in(std::vector<std::pair<std::size_t, std::string_view>> memberships) {
  std::sort(memberships.begin(), memberships.end());
  std::vector<std::string> groups;
  for (const auto& [member, group] : memberships)
    if (std::find(groups.begin(), groups.end(), group) == groups.end()) groups.emplace_back(group);
  return groups;
}

/// The permissions of an object as a JSON object's text, from its
/// (permission, principal) rows, written as PostgreSQL writes the JSONB of
/// permissions_of(): keys shortest first, then bytewise; principals sorted.
std::string permissions_text(std::vector<std::pair<std::string_view, std::string_view>> rows) {
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (a.first.size() != b.first.size()) return a.first.size() < b.first.size();
    return a < b;
  });
  std::string text = "{";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const bool first_of_permission = i == 0 || rows[i].first != rows[i - 1].first;
    if (first_of_permission) {
      if (i > 0) text += "], ";
      json::quote_to(rows[i].first, text);
      text += ": [";
    } else {
      text += ", ";
    }
    json::quote_to(rows[i].second, text);
  }
  if (!rows.empty()) text += ']';
  text += '}';
  return text;
}

/// One connection and the statements prepared on it, by their text.
///
/// Statements without parameters or rows that only matter to what follows
/// them (BEGIN, SAVEPOINT, RELEASE SAVEPOINT) are deferred: they are sent
/// with the next statement, in its round trip, and fail with it.
class session {
public:
  session(pg::connection c) : c_(std::move(c)), opened_(clock::now()) {}

  /// Runs `sql` (statements without parameters), after what was deferred.
  pg::result run(const std::string& sql) {
    if (!settled()) return pg::result();
    if (deferred_.empty()) return c_.run(sql);
    std::string all;
    for (const std::string& statement : sent_deferred()) all += statement + "; ";
    return c_.run(all + sql);
  }
  /// Runs `sql` as a statement prepared on this connection the first time,
  /// after what was deferred. The first statement after begin() runs
  /// before the transaction begin() deferred, in one of its own, when it
  /// may run `alone`; any other statement begins that transaction.
  pg::result run(const std::string& sql, const std::vector<pg::param>& params, bool alone = false) {
    if (!settled()) return pg::result();
    pg::result failed;
    const std::string* name = prepared(sql, failed);
    if (!name) return failed;
    const bool before_transaction = alone && first_;
    first_ = false;
    if (deferred_.empty() || before_transaction) return c_.run_prepared(*name, params);
    return c_.run_prepared_after(sent_deferred(), *name, params);
  }
  /// Sends `sql` (prepared on this connection the first time, which waits
  /// for the server) with `params`, as the first statement after begin()
  /// running `alone` (see run()), and returns without waiting for its
  /// result: receive() reads it. False when it could not be sent.
  bool send_alone(const std::string& sql, const std::vector<pg::param>& params) {
    if (!settled()) return false;
    pg::result failed;
    const std::string* name = prepared(sql, failed);
    if (!name) return false;
    first_ = false;
    return c_.send_prepared(*name, params);
  }
  /// What came of what was sent last (send(), send_alone()), without
  /// waiting: nullopt while more is to come (wait until socket() is
  /// readable). A failure of what send() sent closes the session.
  std::optional<pg::result> receive() {
    std::optional<pg::result> r = c_.receive();
    if (r && sent_) {
      sent_ = false;
      if (!r->ok()) c_.close();
    }
    return r;
  }
  /// Whether what send() sent is yet to be received.
  bool sending() const { return sent_; }
  int socket() const { return c_.socket(); }
  /// Begins a transaction with the statement `begin`, deferred. The first
  /// statement may run before it (see run()).
  void begin(std::string begin) {
    deferred_.assign(1, std::move(begin));
    in_transaction_ = false;
    first_ = true;
  }
  /// Defers `sql`, a statement without parameters or rows, to the next
  /// statement's round trip.
  void defer(std::string sql) { deferred_.push_back(std::move(sql)); }
  /// Takes back `sql` if it is the last statement deferred: whether it was
  /// (then it never ran).
  bool take_back(std::string_view sql) {
    if (deferred_.empty() || deferred_.back() != sql) return false;
    deferred_.pop_back();
    return true;
  }
  /// Whether the transaction begin() deferred has begun.
  bool in_transaction() const { return in_transaction_; }
  /// Forgets the transaction begin() deferred and what else was deferred
  /// (it ended, or never began).
  void end() {
    deferred_.clear();
    in_transaction_ = false;
    first_ = false;
  }
  /// Ends the transaction: ROLLBACK, and nothing deferred runs.
  pg::result roll_back() {
    end();
    return run("ROLLBACK");
  }
  /// Sends `sql` without waiting for its outcome, which the next use of
  /// the session reads first (a failure there closes the session).
  bool send(const std::string& sql) { return sent_ = c_.send(sql); }
  bool broken() const { return c_.broken(); }
  /// Whether the session may be used: what was sent ended well, and the
  /// server has not closed the connection meanwhile.
  bool alive() { return settled() && c_.alive(); }
  clock::time_point opened() const { return opened_; }

private:
  /// Whether what was sent ended well; the session is closed otherwise.
  bool settled() {
    if (!sent_) return true;
    sent_ = false;
    if (c_.settle()) return true;
    c_.close();
    return false;
  }

  /// The name of `sql` prepared on this connection, preparing it the first
  /// time; null, with the server's answer in `failed`, when that fails.
  const std::string* prepared(const std::string& sql, pg::result& failed) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "k" + std::to_string(prepared_.size());
      if (pg::result r = c_.prepare(name, sql); !r.ok()) {
        failed = std::move(r);
        return nullptr;
      }
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    return &it->second;
  }

  /// What was deferred, now being sent: the transaction has begun.
  std::vector<std::string> sent_deferred() {
    in_transaction_ = true;
    return std::exchange(deferred_, {});
  }

  pg::connection c_;
  bool sent_ = false;
  std::vector<std::string> deferred_;
  bool in_transaction_ = false;
  bool first_ = false;
  std::unordered_map<std::string, std::string> prepared_;
  clock::time_point opened_;
};

/// Opens a session on `url`, in UTC (time_of() and upstream's from_epoch need it).
std::unique_ptr<session> connect(const postgresql_options& options, std::string& error) {
  auto c = pg::connection::open(options.url, error, options.connect_timeout);
  if (!c) return nullptr;
  auto s = std::make_unique<session>(std::move(*c));
  // kintod's statements are prepared once per session and run many times
  // with parameters: planned once, not at every run.
  if (pg::result r = s->run("SET TIME ZONE 'UTC'; SET client_encoding TO 'UTF8'; SET plan_cache_mode TO "
                            "force_generic_plan");
      !r.ok()) {
    error = r.error();
    return nullptr;
  }
  return s;
}

// ---- operations over one transaction ------------------------------------------------

/// What a write transaction knows of a list it has locked: the list's
/// timestamp, as it reads it now. A timestamp the transaction set is
/// written to `timestamps` once, before the commit (or before an erasure).
struct locked_list {
  list_key list;
  std::optional<std::uint64_t> timestamp;
  bool known = false;     ///< false once erase_children may have changed it
  bool unwritten = false; ///< `timestamp` was set and is not in `timestamps` yet
};

/// The advisory locks a write transaction holds: on lists (with what it
/// knows of them) and on meta keys.
struct held_locks {
  std::map<std::string, locked_list> lists;
  std::set<std::string> meta;
};

/// The statement of a read ahead (txn_ops::plan_lineage), and what reading
/// its result needs.
struct lineage_query {
  struct wanted {
    object_ref at;
    std::string uri, key;
  };
  std::string sql;
  std::vector<pg::param> params;
  std::vector<wanted> lineage;      ///< the objects read, the hint's first
  std::vector<std::string> members; ///< whose groups are read (none: not read)
  std::string group_key;            ///< their key in the groups read
  std::string stamped;              ///< list_id() of the list whose timestamp is read; empty: none
};

/// Reads and writes over the transaction of one session. `locks` is null in
/// a read snapshot.
class txn_ops {
public:
  txn_ops(session& s, held_locks* locks) : s_(&s), locks_(locks) {}

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

  /// Runs the write `work` unless a failure came first; answers the first
  /// failure if it met one, in its reads too.
  template <class Work> status guarded(Work&& work) {
    if (failure_ != status::ok) return failure_;
    const status s = work();
    if ((s == status::full || s == status::failed) && failure_ == status::ok) failure_ = s;
    return failure_ != status::ok ? failure_ : s;
  }
  status failure() const { return failure_; }
  session& connection() const { return *s_; }
  /// Writes the list timestamps set since the last time; the first failure.
  status write_timestamps();
  /// Forgets the objects read so far (a savepoint may change any).
  void forget_reads() { read_objects_.clear(); }
  /// In a read snapshot, reads what `hint` names, in one statement: the
  /// object and every object above it, each with its permissions, the
  /// groups of its members, the list timestamp: what a request's caller,
  /// permission checks and parent checks read next. As a snapshot's first
  /// statement, it runs before the snapshot's transaction begins.
  void read_lineage(const read_hint& hint) const;
  /// read_lineage() in two steps, for a caller that runs the statement
  /// itself: the statement (nullopt when everything is known already),
  /// then what its result tells (a failed result fails the snapshot).
  std::optional<lineage_query> plan_lineage(const read_hint& hint) const;
  void take_lineage(const lineage_query& q, const pg::result& r) const;

private:
  /// Runs a statement; a failure spoils the transaction (PostgreSQL aborts
  /// it), and is remembered.
  pg::result run(const std::string& sql, const std::vector<pg::param>& params, bool alone = false) const {
    if (failure_ != status::ok) return pg::result();
    pg::result r = s_->run(sql, params, alone);
    if (!r.ok()) failure_ = status::failed;
    return r;
  }
  bool failed() const { return failure_ != status::ok; }
  /// Takes the advisory lock named `name` for the rest of the transaction.
  bool lock(const std::string& name) const {
    return run("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {name}).ok();
  }
  std::optional<std::uint64_t> read_list_timestamp(const list_key& list) const;
  /// The statement reading the timestamp of a list of `k`, whose parent is
  /// the parameter `parent`.
  static std::string list_timestamp_sql(kind k, const std::string& parent);

  /// The key of an object in `read_objects_`.
  static std::string object_key(const list_key& list, std::string_view id) {
    std::string key = list_id(list);
    key += '\0';
    key += id;
    return key;
  }
  /// The entry of a list this transaction has locked (taking the lock).
  locked_list* locked(const list_key& list) const;

  session* s_;
  held_locks* locks_;
  /// The objects read so far: in a read snapshot, all of them; in a write
  /// transaction, those it has not written since (a write's parent, read
  /// once per transaction rather than per write).
  mutable std::map<std::string, std::optional<object>> read_objects_;
  /// In a read snapshot, the permissions read so far, by object URI.
  mutable std::map<std::string, std::optional<std::string>> read_permissions_;
  /// In a read snapshot, the list timestamps read ahead, by list_id().
  mutable std::map<std::string, std::optional<std::uint64_t>> read_list_timestamps_;
  /// In a read snapshot, the groups read ahead, by the members' array.
  mutable std::map<std::string, std::vector<std::string>> read_groups_;
  mutable status failure_ = status::ok;
};

std::optional<object> txn_ops::get(const list_key& list, std::string_view id) const {
  std::string cached = object_key(list, id);
  if (auto it = read_objects_.find(cached); it != read_objects_.end()) return it->second;
  if (!locks_) {
    read_lineage({.list = list, .id = id});
    if (auto it = read_objects_.find(cached); it != read_objects_.end()) return it->second;
    return std::nullopt;
  }
  const list_where where = where_of(list.of);
  const std::string sql = "SELECT " + epoch_of("last_modified") +
                          ", deleted, (data - 'id' - 'last_modified')::text, "
                          "CASE WHEN deleted THEN NULL ELSE " +
                          permissions_of("$3") + " END FROM objects WHERE " + where.objects + " AND id = $2";
  pg::result r = run(sql, {list.parent, std::string(id), list.object_uri(id)});
  if (failed()) return std::nullopt;
  std::optional<object> found = r.rows() == 1 ? object_in(r, 0, 0, id) : std::nullopt;
  read_objects_[cached] = found;
  return found;
}

std::optional<lineage_query> txn_ops::plan_lineage(const read_hint& hint) const {
  lineage_query q;
  for (std::optional<object_ref> at = object_ref{hint.list, std::string(hint.id)}; at; at = owner_of(at->list.parent)) {
    std::string uri = at->list.object_uri(at->id);
    std::string key = object_key(at->list, at->id);
    if (read_objects_.count(key) && read_permissions_.count(uri)) continue;
    q.lineage.push_back({*at, std::move(uri), std::move(key)});
  }
  q.members.assign(hint.members.begin(), hint.members.end());
  q.group_key = array_of(hint.members);
  const bool groups_wanted = !q.members.empty() && !read_groups_.count(q.group_key);
  if (!groups_wanted) q.members.clear();
  if (hint.stamped && !read_list_timestamps_.count(list_id(*hint.stamped))) q.stamped = list_id(*hint.stamped);
  if (q.lineage.empty() && q.members.empty() && q.stamped.empty()) return std::nullopt;

  // One branch per object (a primary-key lookup, tagged with its place in
  // `lineage` from 1), then the rows of their ACLs (tag 0), the memberships
  // of `members` (tag -1), one branch per URI or member, and the list
  // timestamp (tag -2). Every branch is an equality on an index's first
  // column, which the planner reads through the index even in a plan made
  // while the table was empty (a list of values, `IN (...)`, it may plan as
  // a scan of the table). The permissions are put together here rather
  // than aggregated there.
  auto param = [&](std::string value) {
    q.params.emplace_back(std::move(value));
    return "$" + std::to_string(q.params.size());
  };
  auto branch = [&](const std::string& select) { q.sql += (q.sql.empty() ? "" : " UNION ALL ") + select; };
  for (std::size_t k = 0; k < q.lineage.size(); ++k) {
    const object_ref& at = q.lineage[k].at;
    branch("SELECT " + std::to_string(k + 1) + ", " + epoch_of("last_modified") +
           "::text, deleted::text, (data - 'id' - 'last_modified')::text FROM objects WHERE id = " + param(at.id) +
           " AND parent_id = " + param(row_parent(at.list, at.id)) + " AND resource_name = '" +
           std::string(kind_name(at.list.of)) + "'");
  }
  for (const lineage_query::wanted& w : q.lineage)
    branch("SELECT 0, object_id, permission, principal FROM access_control_entries WHERE object_id = " +
           param(w.uri));
  for (const std::string& member : q.members)
    branch("SELECT -1, user_id, principal, NULL FROM user_principals WHERE user_id = " + param(member));
  if (!q.stamped.empty())
    branch("SELECT -2, (" + list_timestamp_sql(hint.stamped->of, param(hint.stamped->parent)) +
           ")::text, NULL, NULL");
  return q;
}

void txn_ops::take_lineage(const lineage_query& q, const pg::result& r) const {
  if (!r.ok()) {
    failure_ = status::failed;
    return;
  }
  std::vector<std::optional<object>> found(q.lineage.size());
  std::map<std::string_view, std::vector<std::pair<std::string_view, std::string_view>>> granted;
  std::vector<std::pair<std::size_t, std::string_view>> memberships;
  for (int i = 0; i < r.rows(); ++i) {
    const std::string_view tag = r.text(i, 0);
    if (tag == "0") {
      granted[r.text(i, 1)].emplace_back(r.text(i, 2), r.text(i, 3));
    } else if (tag == "-2") {
      read_list_timestamps_[q.stamped] = number_of(r.text(i, 1));
    } else if (tag == "-1") {
      const auto member = std::find(q.members.begin(), q.members.end(), r.text(i, 1));
      memberships.emplace_back(member - q.members.begin(), r.text(i, 2));
    } else if (const auto n = number_of(tag); n && *n >= 1 && *n <= q.lineage.size()) {
      found[*n - 1] = object_of(r.text(i, 1), r.text(i, 2) == "true", r.text(i, 3), q.lineage[*n - 1].at.id);
    }
  }
  for (std::size_t k = 0; k < q.lineage.size(); ++k) {
    auto it = granted.find(q.lineage[k].uri);
    std::optional<std::string> acl;
    if (it != granted.end()) acl = permissions_text(it->second);
    if (found[k] && !found[k]->deleted) found[k]->permissions = acl.value_or(std::string());
    read_objects_[q.lineage[k].key] = std::move(found[k]);
    read_permissions_[q.lineage[k].uri] = std::move(acl);
  }
  if (!q.members.empty()) read_groups_[q.group_key] = groups_in(std::move(memberships));
}

void txn_ops::read_lineage(const read_hint& hint) const {
  const std::optional<lineage_query> q = plan_lineage(hint);
  if (!q) return;
  pg::result r = run(q->sql, q->params, true);
  if (failed()) return;
  take_lineage(*q, r);
}

std::string txn_ops::list_timestamp_sql(kind k, const std::string& parent) {
  const list_where where = where_of(k, parent);
  return "SELECT " + epoch_of("MAX(ts)") + " FROM ((SELECT last_modified AS ts FROM objects WHERE " + where.objects +
         " ORDER BY last_modified DESC LIMIT 1) UNION ALL (SELECT last_modified FROM timestamps WHERE " +
         where.timestamps + ")) AS stamps";
}

std::optional<std::uint64_t> txn_ops::read_list_timestamp(const list_key& list) const {
  pg::result r = run(list_timestamp_sql(list.of, "$1"), {list.parent});
  return r.rows() == 1 ? number_of(r.text(0, 0)) : std::nullopt;
}

locked_list* txn_ops::locked(const list_key& list) const {
  const std::string id = list_id(list);
  auto it = locks_->lists.find(id);
  if (it == locks_->lists.end()) {
    if (!lock(lock_name("list", id))) return nullptr;
    it = locks_->lists.emplace(id, locked_list{list, std::nullopt, false, false}).first;
  }
  return &it->second;
}

std::optional<std::uint64_t> txn_ops::list_timestamp(const list_key& list) const {
  if (!locks_) {
    if (auto it = read_list_timestamps_.find(list_id(list)); it != read_list_timestamps_.end()) return it->second;
    return read_list_timestamp(list);
  }
  locked_list* entry = locked(list);
  if (!entry) return std::nullopt;
  if (!entry->known) {
    entry->timestamp = read_list_timestamp(list);
    entry->known = !failed();
  }
  return entry->timestamp;
}

std::optional<std::string> txn_ops::permissions(std::string_view uri) const {
  if (!locks_) {
    const std::string key(uri);
    if (auto it = read_permissions_.find(key); it != read_permissions_.end()) return it->second;
    if (auto at = owner_of(uri); at && !at->id.empty() && at->list.object_uri(at->id) == uri) {
      read_lineage({.list = at->list, .id = at->id});
      if (auto it = read_permissions_.find(key); it != read_permissions_.end()) return it->second;
    }
  }
  pg::result r = run("SELECT " + permissions_of("$1"), {std::string(uri)});
  if (r.rows() != 1 || r.text(0, 0).empty()) return std::nullopt;
  return std::string(r.text(0, 0));
}

std::vector<std::string> txn_ops::groups_of(std::span<const std::string_view> principals) const {
  if (!locks_)
    if (auto it = read_groups_.find(array_of(principals)); it != read_groups_.end()) return it->second;
  // Member by member, each an equality on the index (see read_lineage()).
  std::string sql;
  std::vector<pg::param> params;
  for (std::string_view principal : principals) {
    params.emplace_back(std::string(principal));
    const std::string n = std::to_string(params.size());
    if (!sql.empty()) sql += " UNION ALL ";
    sql += "SELECT " + n + ", principal FROM user_principals WHERE user_id = $" + n;
  }
  if (sql.empty()) return {};
  pg::result r = run(sql, params);
  std::vector<std::pair<std::size_t, std::string_view>> memberships;
  for (int i = 0; i < r.rows(); ++i)
    if (const auto n = number_of(r.text(i, 0))) memberships.emplace_back(*n, r.text(i, 1));
  return groups_in(std::move(memberships));
}

void txn_ops::walk(const list_key& list, std::uint64_t after, std::uint64_t before, bool newest_first,
                   const std::function<bool(const change&)>& visit,
                   const std::function<bool(std::string_view id)>& wanted) const {
  const list_where where = where_of(list.of);
  const std::string sql = "SELECT id, " + epoch_of("last_modified") +
                          ", deleted, (data - 'id' - 'last_modified')::text, "
                          "CASE WHEN deleted THEN NULL ELSE " +
                          permissions_of("$5 || id") + " END FROM objects WHERE " + where.objects +
                          " AND last_modified > " + time_of("$2") + " AND last_modified < " + time_of("$3") +
                          " ORDER BY "
                          "last_modified " +
                          (newest_first ? "DESC" : "ASC") + " LIMIT $4";
  const std::string uri_prefix = list.object_uri("");
  std::uint64_t low = after, high = before == 0 ? end_of_time : before;
  // Pages grow, so that a walk that stops early reads little and a long
  // one takes few round trips.
  std::uint64_t page = 32;
  while (low < high) {
    pg::result r = run(sql, {list.parent, text_of(low), text_of(high), text_of(page), uri_prefix});
    const int rows = r.rows();
    for (int i = 0; i < rows; ++i) {
      const std::string_view id = r.text(i, 0);
      const auto ts = number_of(r.text(i, 1));
      if (!ts) return;
      (newest_first ? high : low) = *ts;
      if (wanted && !wanted(id)) continue;
      const bool deleted = r.text(i, 2) == "t";
      const std::string data = deleted ? std::string() : data_of(id, *ts, r.text(i, 3));
      if (!visit(change{*ts, id, deleted, data, r.text(i, 4)})) return;
    }
    if (static_cast<std::uint64_t>(rows) < page) return;
    page = std::min<std::uint64_t>(page * 4, 2048);
  }
}

void txn_ops::walk_all(const list_key& list, const std::function<bool(const change&)>& visit) const {
  const list_where where = where_of(list.of);
  const std::string sql = "SELECT id, " + epoch_of("last_modified") +
                          ", deleted, (data - 'id' - 'last_modified')::text, "
                          "CASE WHEN deleted THEN NULL ELSE " +
                          permissions_of("$4 || id") + " END FROM objects WHERE " + where.objects +
                          " AND id > $2 ORDER BY id LIMIT $3";
  const std::string uri_prefix = list.object_uri("");
  constexpr int page = 1000;
  std::string from;
  for (;;) {
    pg::result r = run(sql, {list.parent, from, text_of(page), uri_prefix});
    const int rows = r.rows();
    for (int i = 0; i < rows; ++i) {
      const std::string_view id = r.text(i, 0);
      const auto ts = number_of(r.text(i, 1));
      if (!ts) return;
      const bool deleted = r.text(i, 2) == "t";
      const std::string data = deleted ? std::string() : data_of(id, *ts, r.text(i, 3));
      if (!visit(change{*ts, id, deleted, data, r.text(i, 4)})) return;
    }
    if (rows < page) return;
    from = std::string(r.text(rows - 1, 0));
  }
}

void txn_ops::walk_grants(std::string_view principal, const list_key* list, const grant_visitor& visit) const {
  pg::result r =
      list ? run("SELECT object_id, permission FROM access_control_entries WHERE principal = $1 AND object_id LIKE $2 "
                 "ORDER BY object_id, permission",
                 {std::string(principal), like_escaped(list->object_uri("")) + "%"})
           : run("SELECT object_id, permission FROM access_control_entries WHERE principal = $1 ORDER BY object_id, "
                 "permission",
                 {std::string(principal)});
  for (int i = 0; i < r.rows(); ++i) {
    // Rows for URIs that name no object of kintod's (another plugin's) are
    // not grants on objects.
    auto at = owner_of(r.text(i, 0));
    if (!at || at->id.empty() || (list && !(at->list == *list))) continue;
    if (!visit(at->list, at->id, r.text(i, 1))) return;
  }
}

std::optional<std::string> txn_ops::meta(std::string_view key) const {
  const std::string name = meta_name(key);
  if (locks_ && !locks_->meta.count(name)) {
    if (!lock(lock_name("meta", name))) return std::nullopt;
    locks_->meta.insert(name);
  }
  pg::result r = run("SELECT value FROM kintod_meta WHERE name = $1", {name});
  if (r.rows() != 1) return std::nullopt;
  return std::string(r.text(0, 0));
}

status txn_ops::put(const list_key& list, std::string_view id, const object& obj,
                    std::optional<std::uint64_t> previous) {
  const list_where where = where_of(list.of);
  const std::string key(id);
  // No other object of the list can have a timestamp past the list's, as
  // this transaction read it under the list's lock; an older one (a
  // timestamp the client chose) may be taken.
  const locked_list* locked = nullptr;
  if (locks_)
    if (auto it = locks_->lists.find(list_id(list)); it != locks_->lists.end() && it->second.known)
      locked = &it->second;
  if (!locked || (locked->timestamp && obj.last_modified <= *locked->timestamp)) {
    pg::result taken = run("SELECT 1 FROM objects WHERE " + where.objects + " AND last_modified = " + time_of("$2") +
                               " AND id <> $3 LIMIT 1",
                           {list.parent, text_of(obj.last_modified), key});
    if (failed()) return failure_;
    if (taken.rows() > 0) return status::conflict;
  }
  // One statement writes the new version if the stored one is still the
  // one planned on (none: an insert; another: an update of exactly it), and
  // touches no row otherwise; in the same statement, an update clears the
  // object's permissions and an insert grants them (an object never stored
  // has none yet: deletions, kintod's and upstream's, remove them with the
  // object). An update's grants come next: one statement cannot insert rows
  // it also deletes.
  const std::string data = obj.deleted ? std::string("{\"deleted\": true}") : obj.data;
  const std::string deleted = obj.deleted ? "true" : "false";
  const std::string uri = list.object_uri(id);
  const bool grants = !obj.deleted && !no_permissions(obj.permissions);
  // The statement granting the permissions named by $`permissions` (JSON)
  // on the object named by $`uri`.
  auto grant = [](int uri, int permissions) {
    return "INSERT INTO access_control_entries (object_id, permission, principal) SELECT $" + std::to_string(uri) +
           ", granted.key, jsonb_array_elements_text(granted.value) FROM jsonb_each($" + std::to_string(permissions) +
           "::jsonb) AS granted";
  };
  std::vector<pg::param> params;
  std::string sql;
  if (previous) {
    sql = "WITH written AS (UPDATE objects SET last_modified = " + time_of("$3") +
          ", data = $4::jsonb - 'id' - 'last_modified', deleted = $5 WHERE " + where.objects + " AND id = $2 AND " +
          epoch_of("last_modified") +
          " = $6 RETURNING 1), cleared AS (DELETE FROM access_control_entries WHERE object_id = $7 AND EXISTS "
          "(SELECT 1 FROM written)) SELECT count(*) FROM written";
    params = {list.parent, key, text_of(obj.last_modified), data, deleted, text_of(*previous), uri};
  } else {
    sql = "WITH written AS (INSERT INTO objects (id, parent_id, resource_name, last_modified, data, deleted) VALUES "
          "($1, $2, $3, " +
          time_of("$4") +
          ", $5::jsonb - 'id' - 'last_modified', $6) ON CONFLICT (id, parent_id, resource_name) DO NOTHING "
          "RETURNING 1)";
    params = {key, row_parent(list, id), std::string(kind_name(list.of)), text_of(obj.last_modified), data, deleted};
    if (grants) {
      sql += ", granted AS (" + grant(7, 8) + " WHERE EXISTS (SELECT 1 FROM written) ON CONFLICT DO NOTHING)";
      params.insert(params.end(), {uri, obj.permissions});
    }
    sql += " SELECT count(*) FROM written";
  }
  pg::result written = run(sql, params);
  if (failed()) return failure_;
  if (written.rows() != 1 || written.text(0, 0) != "1") return status::stale;
  read_objects_.erase(object_key(list, id));
  if (previous && grants) run(grant(1, 2) + " ON CONFLICT DO NOTHING", {uri, obj.permissions});
  return failed() ? failure_ : status::ok;
}

status txn_ops::set_list_timestamp(const list_key& list, std::uint64_t ts) {
  // The list is this transaction's to stamp from here on: it holds its lock.
  locked_list* entry = locked(list);
  if (!entry) return failure_;
  entry->timestamp = ts;
  entry->known = true;
  entry->unwritten = true;
  return status::ok;
}

status txn_ops::write_timestamps() {
  for (auto& [name, entry] : locks_->lists) {
    if (!entry.unwritten || !entry.timestamp) continue;
    run("INSERT INTO timestamps (parent_id, resource_name, last_modified) VALUES ($1, $2, " + time_of("$3") +
            ") ON CONFLICT "
            "(parent_id, resource_name) DO UPDATE SET last_modified = EXCLUDED.last_modified",
        {entry.list.parent, std::string(kind_name(entry.list.of)), text_of(*entry.timestamp)});
    if (failed()) return failure_;
    entry.unwritten = false;
  }
  return status::ok;
}

status txn_ops::add_member(std::string_view principal, std::string_view group_uri) {
  run("INSERT INTO user_principals (user_id, principal) VALUES ($1, $2) ON CONFLICT DO NOTHING",
      {std::string(principal), std::string(group_uri)});
  return failed() ? failure_ : status::ok;
}

status txn_ops::remove_member(std::string_view principal, std::string_view group_uri) {
  run("DELETE FROM user_principals WHERE user_id = $1 AND principal = $2",
      {std::string(principal), std::string(group_uri)});
  return failed() ? failure_ : status::ok;
}

status txn_ops::erase_children(std::string_view uri) {
  if (locks_ && write_timestamps() != status::ok) return failure_;
  read_objects_.clear();
  // What is below `uri` sorts (in the "C" collation of these columns) from
  // "uri/" up to "uri0", '0' following '/': a range of their indexes, as
  // generic plans take it (they cannot see a constant LIKE prefix).
  const std::string exact(uri), first = exact + "/", past = exact + "0";
  run("DELETE FROM objects WHERE parent_id = $1 OR (parent_id >= $2 AND parent_id < $3)", {exact, first, past});
  run("DELETE FROM timestamps WHERE parent_id = $1 OR (parent_id >= $2 AND parent_id < $3)", {exact, first, past});
  run("DELETE FROM access_control_entries WHERE object_id >= $1 AND object_id < $2", {first, past});
  run("DELETE FROM user_principals WHERE principal LIKE $1", {like_escaped(uri) + "/%"});
  if (locks_)
    for (auto& [name, locked] : locks_->lists) locked.known = false;
  return failed() ? failure_ : status::ok;
}

status txn_ops::erase_object(const list_key& list, std::string_view id) {
  const list_where where = where_of(list.of);
  run("DELETE FROM objects WHERE " + where.objects + " AND id = $2", {list.parent, std::string(id)});
  read_objects_.erase(object_key(list, id));
  run("DELETE FROM access_control_entries WHERE object_id = $1", {list.object_uri(id)});
  return failed() ? failure_ : status::ok;
}

status txn_ops::forget_principal(std::string_view principal) {
  read_objects_.clear();
  run("DELETE FROM access_control_entries WHERE principal = $1", {std::string(principal)});
  run("DELETE FROM user_principals WHERE user_id = $1", {std::string(principal)});
  return failed() ? failure_ : status::ok;
}

status txn_ops::set_meta(std::string_view key, std::string_view value) {
  run("INSERT INTO kintod_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
      {meta_name(key), std::string(value)});
  return failed() ? failure_ : status::ok;
}

status txn_ops::erase_everything() {
  if (locks_ && write_timestamps() != status::ok) return failure_;
  read_objects_.clear();
  for (const char* table : {"objects", "timestamps", "access_control_entries", "user_principals"})
    run(std::string("DELETE FROM ") + table, {});
  if (locks_)
    for (auto& [name, locked] : locks_->lists) locked.known = false;
  return failed() ? failure_ : status::ok;
}

// ---- the interface's classes --------------------------------------------------------

class postgresql_engine;

/// The channel of the announcements of kintod's heads (LISTEN/NOTIFY).
constexpr std::string_view announcement_channel = "kintod_announcements";

/// A read snapshot: a pooled session in a REPEATABLE READ, READ ONLY
/// transaction, given back to the pool when the snapshot ends. What it
/// reads ahead it reads before that transaction begins, in one statement;
/// the transaction begins with the next statement, in the same round trip,
/// and a request answered from what was read ahead never begins it. What
/// was read ahead is consistent in itself; what is read after it may be
/// newer, as though the request had checked its caller and permissions a
/// moment before reading the rest.
class pg_snapshot final : public view_over<txn_ops, view> {
public:
  pg_snapshot(const postgresql_engine& engine, std::unique_ptr<session> s)
      : view_over(txn_ops(*s, nullptr)), engine_(engine), session_(std::move(s)) {}
  ~pg_snapshot() override;
  void read_ahead(const read_hint& hint) const override { ops_.read_lineage(hint); }
  /// read_ahead() for a caller that sends the statement and waits for its
  /// result itself (see opening_read).
  std::optional<lineage_query> plan_ahead(const read_hint& hint) const { return ops_.plan_lineage(hint); }
  void take_ahead(const lineage_query& q, const pg::result& r) const { ops_.take_lineage(q, r); }
  bool failed() const override { return ops_.failure() != status::ok; }
  session& connection() const { return *session_; }
  pg_snapshot(const pg_snapshot&) = delete;
  pg_snapshot& operator=(const pg_snapshot&) = delete;

private:
  const postgresql_engine& engine_;
  std::unique_ptr<session> session_;
};

/// Writes since a SAVEPOINT of the write transaction. It works on a copy of
/// the transaction's locks (and what it knows of its lists): a rollback to
/// the savepoint releases the locks taken since, and forgets the timestamps
/// it wrote.
class pg_savepoint final : public writer_over<txn_ops, savepoint> {
public:
  pg_savepoint(session& s, held_locks& enclosing)
      : writer_over(txn_ops(s, &locks_)), enclosing_(enclosing), locks_(enclosing) {}
  ~pg_savepoint() override {
    if (!done_) roll_back();
  }
  /// The release is deferred to the transaction's next statement: a
  /// failure there fails the transaction, whose commit answers it.
  status release() override {
    done_ = true;
    if (ops_.failure() != status::ok) {
      roll_back();
      return ops_.failure();
    }
    session& s = ops_.connection();
    if (!s.take_back(opening)) s.defer(releasing);
    enclosing_ = std::move(locks_);
    return status::ok;
  }

  static constexpr const char* opening = "SAVEPOINT kintod";
  static constexpr const char* releasing = "RELEASE SAVEPOINT kintod";

private:
  void roll_back() {
    session& s = ops_.connection();
    if (!s.take_back(opening)) (void)s.run("ROLLBACK TO SAVEPOINT kintod; RELEASE SAVEPOINT kintod");
  }

  held_locks& enclosing_;
  held_locks locks_;
  bool done_ = false;
};

class pg_transaction final : public writer_over<txn_ops, write_transaction> {
public:
  pg_transaction(postgresql_engine& engine, session& s) : writer_over(txn_ops(s, &locks_)), engine_(engine) {}
  ~pg_transaction() override;
  pg_transaction(const pg_transaction&) = delete;
  pg_transaction& operator=(const pg_transaction&) = delete;

  std::unique_ptr<savepoint> open_savepoint() override {
    if (ops_.failure() != status::ok) return nullptr;
    ops_.connection().defer(pg_savepoint::opening);
    ops_.forget_reads();
    return std::make_unique<pg_savepoint>(ops_.connection(), locks_);
  }
  void commit(std::function<void(status)> done) override;
  void announce(std::string message) override;

private:
  postgresql_engine& engine_;
  held_locks locks_;
  bool ended_ = false;
  std::string notifications_; ///< pg_notify statements sent with COMMIT
};

/// A read_hint that owns what it names, for a read that outlives its call.
struct owned_hint {
  explicit owned_hint(const read_hint& h)
      : list(h.list), id(h.id), members(h.members.begin(), h.members.end()),
        stamped(h.stamped ? std::optional<list_key>(*h.stamped) : std::nullopt) {
    member_views.assign(members.begin(), members.end());
  }
  read_hint view() const { return {.list = list, .id = id, .members = member_views, .stamped = stamped ? &*stamped : nullptr}; }

  list_key list;
  std::string id;
  std::vector<std::string> members;
  std::vector<std::string_view> member_views;
  std::optional<list_key> stamped;
};

/// A read snapshot being opened without holding a thread: it gets a
/// session of the pool (or waits in line for one), reads the outcome of
/// what the session's last user sent, sends the read ahead and, at each
/// step, waits for the server's answer through the engine's readiness.
class opening_read : public std::enable_shared_from_this<opening_read> {
public:
  opening_read(const postgresql_engine& engine, const read_hint& hint, std::function<void(snapshot)> then)
      : engine_(engine), hint_(hint), then_(std::move(then)) {}

  /// Goes on with `s`, a session of the pool, or, when null, with a place
  /// in the pool to open one in.
  void start(std::unique_ptr<session> s);

private:
  void send();
  void step();
  void wait(int fd);
  /// The session is lost: another one is tried, once.
  void retry();
  void finish() { then_(snap_ ? snapshot(std::move(snap_)) : snapshot()); }

  const postgresql_engine& engine_;
  owned_hint hint_;
  std::function<void(snapshot)> then_;
  std::unique_ptr<session> session_;  ///< before send(): the session taken
  std::unique_ptr<pg_snapshot> snap_; ///< from send() on
  std::optional<lineage_query> query_;
  bool retried_ = false;
};

class postgresql_engine final : public engine {
public:
  explicit postgresql_engine(postgresql_options options)
      : options_(std::move(options)), limits_(lmdb_key_limits(511)) {}
  ~postgresql_engine() override {
    {
      std::lock_guard<std::mutex> lock(listen_mutex_);
      stop_listening_ = true;
    }
    if (listener_.joinable()) listener_.join();
  }

  void listen(std::function<void(const std::string&)> heard) override {
    std::lock_guard<std::mutex> lock(listen_mutex_);
    heard_ = std::move(heard);
    if (heard_ && !listener_.joinable()) listener_ = std::thread([this] { listen_loop(); });
  }

  // A session idle since the database restarted finds out it is lost when
  // it looks at what the server sent: then a new one is tried, once.
  snapshot read() const override {
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto s = take();
      if (!s) return snapshot();
      if (s->alive()) {
        s->begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        return snapshot(std::make_unique<pg_snapshot>(*this, std::move(s)));
      }
      give_back(std::move(s));
      // The idle sessions were most likely lost with it (the database
      // restarted): the next try opens a new one.
      drop_idle();
    }
    return snapshot();
  }

  /// Without a readiness, as engine::read(). With one, the read ahead is
  /// sent on a session of the pool and `then` runs once it is answered;
  /// when the pool is full, the read waits in line for a session (the
  /// readers that hold a thread, in read(), are served first).
  void read(const read_hint& hint, std::function<void(snapshot)> then) const override {
    if (!await_) return engine::read(hint, std::move(then));
    offer(std::make_shared<opening_read>(*this, hint, std::move(then)));
  }
  void wait_through(readiness await) override { await_ = std::move(await); }
  /// Calls `ready` once `fd` is readable (see wait_through()).
  void await(int fd, std::function<void()> ready) const { await_(fd, std::move(ready)); }

  /// Gives `job` a session: an idle one, a place to open one in while the
  /// pool is not full, or, once one is given back, that one.
  void offer(std::shared_ptr<opening_read> job) const {
    std::unique_ptr<session> s;
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        s = std::move(idle_.back());
        idle_.pop_back();
      } else if (open_ < options_.pool_size) {
        ++open_;
      } else {
        waiting_.push_back(std::move(job));
        return;
      }
    }
    hand(std::move(job), std::move(s));
  }

  /// Opens a session in a place of the pool taken for it; null (the place
  /// given up) when the database cannot be reached.
  std::unique_ptr<session> open_reserved() const {
    std::string error;
    if (auto s = connect(options_, error)) return s;
    lost(error);
    release(nullptr);
    return nullptr;
  }

  /// The transaction's BEGIN is deferred to its first statement. A session
  /// the server closed (it restarted) is replaced first.
  status begin_write(std::unique_ptr<write_transaction>& txn) override {
    if (writer_ && !writer_->alive()) writer_.reset();
    if (!writer_) {
      std::string error;
      writer_ = connect(options_, error);
      if (!writer_) {
        lost(error);
        return status::failed;
      }
    }
    writer_->begin("BEGIN");
    txn = std::make_unique<pg_transaction>(*this, *writer_);
    return status::ok;
  }

  const key_limits& keys() const override { return limits_; }

  /// Ends the transaction of a read snapshot, if it began, and returns its
  /// session. The ROLLBACK is not waited for: its outcome is read when the
  /// session is next used.
  void give_back(std::unique_ptr<session> s) const {
    if (s->in_transaction() && !s->broken() && !s->send("ROLLBACK")) s.reset();
    if (s) s->end();
    const bool old = options_.pool_recycle.count() > 0 && s && clock::now() - s->opened() > options_.pool_recycle;
    if (!s || s->broken() || old) s.reset();
    release(std::move(s));
  }

  /// Returns `s` to the pool, or, when null, the place of a session that
  /// was closed: to a reader waiting in read() first, then to one waiting
  /// in line (offer()).
  void release(std::unique_ptr<session> s) const {
    std::shared_ptr<opening_read> next;
    {
      std::lock_guard lock(mutex_);
      if (blocked_ == 0 && !waiting_.empty()) {
        next = std::move(waiting_.front());
        waiting_.pop_front();
      } else if (s) {
        idle_.push_back(std::move(s));
      } else {
        --open_;
      }
      free_.notify_one();
    }
    if (next) hand(std::move(next), std::move(s));
  }

  /// Closes the idle sessions of the pool.
  void drop_idle() const {
    std::lock_guard lock(mutex_);
    open_ -= idle_.size();
    idle_.clear();
    free_.notify_all();
  }

  /// The writer's session after its transaction ended: kept, or dropped
  /// when lost.
  void writer_done() {
    if (writer_ && writer_->broken()) writer_.reset();
  }

  /// Logs what the database or libpq said, on one line.
  void lost(const std::string& error) const {
    if (!options_.log) return;
    std::string line = "PostgreSQL: ";
    for (char ch : error) {
      if (ch == '\n' || ch == '\t') {
        if (line.back() != ' ') line += ' ';
      } else {
        line += ch;
      }
    }
    options_.log(line);
  }

private:
  /// A session of the pool: an idle one, a new one while the pool is not
  /// full, or the next one given back within the pool timeout.
  std::unique_ptr<session> take() const {
    std::unique_lock lock(mutex_);
    const auto deadline = clock::now() + options_.pool_timeout;
    for (;;) {
      if (!idle_.empty()) {
        auto s = std::move(idle_.back());
        idle_.pop_back();
        return s;
      }
      if (open_ < options_.pool_size) {
        ++open_;
        lock.unlock();
        std::string error;
        auto s = connect(options_, error);
        if (s) return s;
        lost(error);
        lock.lock();
        --open_;
        free_.notify_one();
        return nullptr;
      }
      ++blocked_;
      const bool timed_out = free_.wait_until(lock, deadline) == std::cv_status::timeout;
      --blocked_;
      if (timed_out && idle_.empty() && open_ >= options_.pool_size) return nullptr;
    }
  }

  /// Starts `job` with `s`. A job may end at once, and what it then gives
  /// back may start another: the jobs started meanwhile on this thread run
  /// one after the other here, rather than one inside the other.
  static void hand(std::shared_ptr<opening_read> job, std::unique_ptr<session> s) {
    using start = std::pair<std::shared_ptr<opening_read>, std::unique_ptr<session>>;
    thread_local std::deque<start>* running = nullptr;
    if (running) {
      running->emplace_back(std::move(job), std::move(s));
      return;
    }
    std::deque<start> queue;
    queue.emplace_back(std::move(job), std::move(s));
    running = &queue;
    while (!queue.empty()) {
      start next = std::move(queue.front());
      queue.pop_front();
      next.first->start(std::move(next.second));
    }
    running = nullptr;
  }

  /// The listener's thread: a connection of its own that LISTENs, waits
  /// for what the server sends (at most 200 ms at a time, to see when to
  /// stop), and opens again when lost, a second later.
  void listen_loop() {
    std::optional<pg::connection> c;
    auto stopping = [this] {
      std::lock_guard<std::mutex> lock(listen_mutex_);
      return stop_listening_;
    };
    while (!stopping()) {
      if (!c || c->broken()) {
        std::string error;
        c = pg::connection::open(options_.url, error, options_.connect_timeout);
        if (c && !c->run("LISTEN " + std::string(announcement_channel)).ok()) c.reset();
        if (!c) {
          for (int i = 0; i < 5 && !stopping(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(200));
          continue;
        }
      }
      pollfd readable{c->socket(), POLLIN, 0};
      if (::poll(&readable, 1, 200) <= 0) continue;
      if (!c->consume()) {
        c.reset();
        continue;
      }
      while (auto payload = c->notification()) {
        std::lock_guard<std::mutex> lock(listen_mutex_);
        if (heard_) heard_(*payload);
      }
    }
  }

  postgresql_options options_;
  key_limits limits_;
  std::mutex listen_mutex_;
  bool stop_listening_ = false;
  std::function<void(const std::string&)> heard_;
  std::thread listener_;
  std::unique_ptr<session> writer_;
  mutable std::mutex mutex_;
  mutable std::condition_variable free_;
  mutable std::vector<std::unique_ptr<session>> idle_;
  mutable std::size_t open_ = 0; ///< sessions of the pool, idle or in use
  mutable std::size_t blocked_ = 0; ///< readers waiting in take()
  mutable std::deque<std::shared_ptr<opening_read>> waiting_; ///< reads waiting in line (offer())
  readiness await_;
};

void opening_read::start(std::unique_ptr<session> s) {
  if (!s) s = engine_.open_reserved();
  if (!s) return finish();
  session_ = std::move(s);
  // A ROLLBACK its last user sent is answered before anything else.
  if (session_->sending()) return wait(session_->socket());
  send();
}

void opening_read::send() {
  // A session idle since the database restarted finds out it is lost when
  // it looks at what the server sent.
  if (!session_->alive()) return retry();
  session_->begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  snap_ = std::make_unique<pg_snapshot>(engine_, std::move(session_));
  query_ = snap_->plan_ahead(hint_.view());
  if (!query_) return finish();
  if (!snap_->connection().send_alone(query_->sql, query_->params)) {
    // The session was lost between the look and the send.
    snap_.reset();
    return retry();
  }
  wait(snap_->connection().socket());
}

void opening_read::wait(int fd) {
  if (fd < 0) return step(); // the connection is lost: receive() says so
  engine_.await(fd, [self = shared_from_this()] { self->step(); });
}

void opening_read::step() {
  session& s = snap_ ? snap_->connection() : *session_;
  std::optional<pg::result> r = s.receive();
  if (!r) return wait(s.socket());
  if (!snap_) return r->ok() && !s.broken() ? send() : retry();
  // A failed read ahead (most often the connection lost while the
  // database answered: it shut down or restarted) leaves nothing to answer
  // from: no snapshot, as when none can be opened.
  if (r->ok()) snap_->take_ahead(*query_, *r);
  else snap_.reset();
  finish();
}

void opening_read::retry() {
  if (session_) engine_.give_back(std::move(session_));
  // The idle sessions were most likely lost with it (the database
  // restarted): the next try opens a new one.
  engine_.drop_idle();
  if (std::exchange(retried_, true)) return finish();
  engine_.offer(shared_from_this());
}

pg_snapshot::~pg_snapshot() { engine_.give_back(std::move(session_)); }

pg_transaction::~pg_transaction() {
  if (!ended_) (void)ops_.connection().roll_back();
  engine_.writer_done();
}

void pg_transaction::commit(std::function<void(status)> done) {
  ended_ = true;
  if (ops_.failure() == status::ok) (void)ops_.write_timestamps();
  if (ops_.failure() != status::ok) {
    (void)ops_.connection().roll_back();
    return done(ops_.failure());
  }
  pg::result r = ops_.connection().run(notifications_ + "COMMIT");
  // A transaction a failure aborted answers COMMIT with ROLLBACK.
  const bool committed = r.ok() && r.command() == "COMMIT";
  if (!committed) {
    engine_.lost("commit failed: " + (r.ok() ? std::string("the transaction was rolled back") : r.error()));
    (void)ops_.connection().roll_back();
  }
  ops_.connection().end();
  done(committed ? status::ok : status::failed);
}

void pg_transaction::announce(std::string message) {
  // A NOTIFY payload is shorter than 8000 bytes. Dollar quoting takes the
  // text as it is: it only must not hold the quote's tag.
  if (message.empty() || message.size() >= 8000 || message.find('$') != std::string::npos) return;
  notifications_ += "SELECT pg_notify('" + std::string(announcement_channel) + "', $kintod$" + message + "$kintod$); ";
}

/// kintod's own table, beside upstream's: server-wide facts (secrets,
/// counters) under names of its own.
const char* const kintod_tables = R"sql(
SET client_min_messages TO ERROR;
CREATE TABLE IF NOT EXISTS kintod_meta (
  name  TEXT COLLATE "C" PRIMARY KEY,
  value TEXT NOT NULL
);
RESET client_min_messages;
)sql";

} // namespace

std::unique_ptr<engine> open_postgresql(const postgresql_options& options, std::string& error) {
  for (bool permission : {false, true}) {
    std::optional<int> version;
    if (!postgresql_schema_version(options.url, permission, version, error)) return nullptr;
    const int wanted = permission ? postgresql_permission_schema_version : postgresql_storage_schema_version;
    if (!version) {
      postgresql_migration m;
      m.storage_url = m.permission_url = options.url;
      m.log = options.log;
      if (!migrate_postgresql(m, error)) return nullptr;
      break;
    }
    if (*version != wanted) {
      error = std::string(permission ? "permission" : "storage") + " schema version " + std::to_string(*version) +
              " in the database, this kintod uses " + std::to_string(wanted) + ": run kintod migrate";
      return nullptr;
    }
  }
  auto setup = connect(options, error);
  if (!setup) return nullptr;
  if (pg::result r = setup->run(kintod_tables); !r.ok()) {
    error = "cannot create kintod_meta: " + r.error();
    return nullptr;
  }
  return std::make_unique<postgresql_engine>(options);
}

} // namespace kinto::storage
