// The actors' interfaces and the messages they exchange. Internal to
// actors/: includes CAF, so no other folder includes it. Every message type
// is inspectable (CAF 0.17's `inspect`), none carries a function: answers
// travel as responses to requests.
#pragma once

#include "actors/commands.hpp"
#include "storage/engine.hpp"

#include <caf/all.hpp>

#include <optional>

namespace kinto::actors {

using write_atom = caf::atom_constant<caf::atom("write")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using session_atom = caf::atom_constant<caf::atom("session")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using retire_atom = caf::atom_constant<caf::atom("retire")>;

/// A list actor: writes planned for its list come in, stamped and durable
/// outcomes go out (from the committer, to which it delegates them); the
/// committer tells it the fate of each write it handed on, by sequence
/// number and object id.
using list_actor = caf::typed_actor<caf::replies_to<write_atom, planned_write>::with<write_outcome>,
                                    caf::reacts_to<committed_atom, std::uint64_t, std::string, storage::status>,
                                    caf::reacts_to<retire_atom>>;

/// A stamped write for the committer, and who to tell of its fate.
struct commit_request {
  list_key list;
  planned_write write;
  list_actor from;      ///< its list actor, told (committed, seq, status)
  std::uint64_t seq = 0;
};

/// The committer: stamped writes, and batch sessions by ticket (their
/// bodies wait in the write service's session board), each answered once
/// durable.
using committer_actor = caf::typed_actor<caf::replies_to<commit_atom, commit_request>::with<write_outcome>,
                                         caf::replies_to<session_atom, std::uint64_t>::with<storage::status>,
                                         caf::reacts_to<flush_atom>,
                                         caf::reacts_to<committed_atom, std::uint64_t, storage::status>>;

/// std::optional as CAF 0.17 inspects it: a flag and a value.
template <class T>
struct optional_field {
  explicit optional_field(std::optional<T>& target)
      : target(target), present(target.has_value()), value(target.value_or(T{})) {}
  std::optional<T>& target;
  bool present;
  T value;
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, optional_field<T>& x) {
  auto load = caf::meta::load_callback([&x]() -> caf::error {
    x.target = x.present ? std::optional<T>(std::move(x.value)) : std::nullopt;
    return caf::none;
  });
  return f(caf::meta::type_name("optional"), x.present, x.value, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_plan& x) {
  optional_field<std::uint64_t> previous(x.previous), proposed(x.proposed);
  return f(caf::meta::type_name("write_plan"), x.needs_write, x.touch, x.created, x.object, previous, proposed,
           x.list_seen, x.stamp_at, x.list_timestamp, x.members_added, x.members_removed, x.erase_children);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, planned_write& x) {
  return f(caf::meta::type_name("planned_write"), x.id, x.author, x.plan, x.previous);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_outcome& x) {
  optional_field<error> failure(x.failure);
  return f(caf::meta::type_name("write_outcome"), failure, x.created, x.last_modified, x.data, x.permissions,
           x.previous, x.stale);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, commit_request& x) {
  return f(caf::meta::type_name("commit_request"), x.list, x.write, x.from, x.seq);
}

} // namespace kinto::actors

namespace kinto::storage {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, object& x) {
  return f(caf::meta::type_name("object"), x.last_modified, x.deleted, x.data, x.permissions);
}

} // namespace kinto::storage

namespace kinto::json {

/// A JSON value travels as its text.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, value& x) {
  std::string text = serialize(x);
  auto load = caf::meta::load_callback([&x, &text]() -> caf::error {
    std::string err;
    auto parsed = parse(text, err);
    if (!parsed) return caf::sec::invalid_argument;
    x = std::move(*parsed);
    return caf::none;
  });
  return f(caf::meta::type_name("json"), text, load);
}

} // namespace kinto::json

namespace kinto {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_key& x) {
  return f(caf::meta::type_name("list_key"), x.parent, x.of);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, error& x) {
  actors::optional_field<std::string> message(x.message), info(x.info);
  actors::optional_field<json::value> details(x.details);
  return f(caf::meta::type_name("error"), x.status, x.code, x.title, message, details, info);
}

} // namespace kinto
