// Permission decisions (auth-permissions.md §3-§6): who the caller is (its
// principals), and whether a requirement of schema/permissions.hpp is met,
// by a `<type>_<perm>_principals` setting or by an access control entry of
// the object or an ancestor. Every decision of kintod is taken here, from a
// storage view, so that what a request decides is what its view holds.
#pragma once

#include "core/acl.hpp"
#include "schema/error.hpp"
#include "schema/permissions.hpp"
#include "storage/listing.hpp"
#include "storage/engine.hpp"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace kinto::core {

/// Who is asking: its user id and every principal it holds.
struct caller {
  std::string user_id; ///< empty when anonymous
  /// User id first (if any), system.Everyone, system.Authenticated (if
  /// authenticated), then the URIs of the groups it belongs to.
  std::vector<std::string> principals;
  bool authenticated() const { return !user_id.empty(); }
  /// The principal recorded as author of writes.
  std::string author() const;
  bool holds_any(std::span<const std::string> allowed) const;
};

/// A refusal of what `who` may not do: 401 for anonymous callers (who
/// might authenticate), 403 for authenticated ones.
error denied(const caller& who);

/// The caller `user_id` (empty: anonymous) with its principals, groups read
/// from the membership index of `v`.
caller resolve_caller(std::string user_id, const storage::view& v);

/// The principals whose groups the caller `user_id` holds: the user and
/// system.Authenticated; none when anonymous. Views into `user_id`.
std::vector<std::string_view> members_of(const std::string& user_id);

/// The `<type>_<perm>_principals` settings that are set, by setting name.
struct principal_settings {
  std::unordered_map<std::string, std::vector<std::string>> by_name;
  /// The principals a setting grants (empty when unset).
  const std::vector<std::string>& of(const std::string& setting) const;
};

/// Decisions for one caller over one view. Each object's ACL is read and
/// decoded once, however many questions need it. The view, the caller and
/// the settings must outlive the decider.
class decider {
public:
  decider(const storage::view& v, const caller& who, const principal_settings& settings)
      : view_(v), who_(who), settings_(settings) {}
  decider(const storage::view&, caller&&, const principal_settings&) = delete;

  /// May the caller do `a` on the object `id` of `list` (read, write), or on
  /// the list itself (create, read_all, write_all; `id` ignored)?
  bool may(const list_key& list, std::string_view id, permissions::action a);
  /// Whether a setting or an entry of `r` names one of the caller's principals.
  bool satisfies(const permissions::requirement& r);
  /// Whether the caller holds, directly on some object of `list` (not
  /// deeper), one of `names`: the reverse index, at the cost of what the
  /// caller holds there.
  bool holds_on_some(const list_key& list, std::span<const std::string_view> names) const;
  /// The ACL of the object `uri`, decoded once.
  const acl& acl_of(const std::string& uri);
  /// Takes `a` as the ACL of `uri` (already read from the same view).
  void know(const std::string& uri, acl a) { acls_.insert_or_assign(uri, std::move(a)); }

private:
  const storage::view& view_;
  const caller& who_;
  const principal_settings& settings_;
  std::unordered_map<std::string, acl> acls_;
};

/// A visibility filter keeping the objects of `list` (in `v`) on which `who`
/// directly holds one of `names`: one ACL lookup per candidate.
storage::visibility holding(const storage::view& v, std::shared_ptr<const caller> who, list_key list,
                            std::vector<std::string_view> names);

} // namespace kinto::core
