// The rules of object and plural endpoints that do not depend on how a
// request arrived: who may see and change accounts, what a missing parent
// means, how long an anonymous read may be cached, which permission a write
// needs, and the body of a PATCH response (resources.md, concurrency.md,
// auth-permissions.md, accounts in batch-and-plugins.md §2).
#pragma once

#include "actors/commands.hpp"
#include "core/access.hpp"
#include "core/rules.hpp"
#include "schema/error.hpp"
#include "storage/engine.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kinto::core {

/// 404 (errno 111) when the object owning `list` is missing from `v`.
std::optional<error> missing_owner(const storage::view& v, const list_key& list);

/// Whether `who` administers accounts: may write every one (write), or read
/// every one (!write: read or write principals).
bool is_account_admin(const rules& r, const caller& who, bool write);
/// Accounts may only be seen and changed by themselves and administrators:
/// 401 for anonymous callers, 403 for others.
std::optional<error> account_access(const rules& r, const caller& who, std::string_view id, bool write);
/// Creating the account `id` with PUT: allowed to administrators and to
/// `account_create_principals`; an authenticated caller who is not an
/// administrator may only create its own.
std::optional<error> account_creation(const rules& r, const caller& who, std::string_view id);
/// The password of an account write: required and a string for PUT, a
/// string when a PATCH sends one.
std::optional<error> account_password(bool replacing, const std::optional<json::value>& data);
/// Every clear password `cmd` would store: in `data`, or set by a
/// JSON-Patch operation (on /data/password, or on /data as a whole). The
/// caller hashes them in place before submitting.
std::vector<json::value*> clear_passwords(actors::write_command& cmd);

/// The permission a write of an object needs (auth-permissions.md §5.1-§5.2):
/// creating with PUT (absent, or `If-None-Match: *`) needs create on the
/// list; changing an existing object needs write; a PATCH or DELETE of a
/// missing object needs read on the list (to learn it is missing: 404).
permissions::action needed_for_write(actors::write_op op, bool exists, const actors::preconditions& pre);

/// Client caching of a successful read (concurrency.md §5): only anonymous
/// reads may be cached, for as long as settings (and, for records, the
/// collection's `cache_expires`) allow. Seconds: nullopt or negative = no
/// caching; 0 = must revalidate.
std::optional<std::int64_t> cache_seconds(const rules& r, const caller& who, const storage::view& v,
                                          const list_key& list);

/// The `data` of a PATCH response (resources.md §4.3, `Response-Behavior`):
/// `full` the stored object; `light` the keys sent whose stored value
/// changed; `diff` those of them stored differently from what was sent.
std::string shape_patch_response(std::string_view behaviour, const json::value& sent, std::string_view previous_text,
                                 std::string_view stored_text);

} // namespace kinto::core
