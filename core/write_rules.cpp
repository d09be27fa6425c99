// The rules of one write (resources.md §4–§8, concurrency.md §2 and §4).
#include "core/write_rules.hpp"

#include "base/json_patch.hpp"
#include "base/json_schema.hpp"

#include <algorithm>
#include <chrono>

namespace kinto::core {

namespace {

json::value parse_or_empty_object(std::string_view text) {
  std::string err;
  auto v = json::parse(text, err);
  if (v && v->is_object()) return std::move(*v);
  return json::value::object();
}

/// A client-proposed timestamp: only a JSON integer that fits is considered.
std::optional<std::uint64_t> proposed_timestamp(const json::value* v) {
  if (!v || !v->is_number() || !v->is_integer()) return std::nullopt;
  auto n = v->as_int64();
  if (!n || *n < 0) return std::nullopt;
  return static_cast<std::uint64_t>(*n);
}

void add_unique(json::value& list, std::string_view principal) {
  for (const auto& p : list.as_array())
    if (p.is_string() && p.as_string() == principal) return;
  list.as_array().emplace_back(principal);
}

/// Canonical permissions: known names only, string principals, no duplicates,
/// empty names dropped.
json::value normalized(kind k, const json::value& perms) {
  json::value out = json::value::object();
  if (!perms.is_object()) return out;
  for (const auto& [name, principals] : perms.as_object()) {
    if (!is_permission_of(k, name) || !principals.is_array()) continue;
    json::value list = json::value::array();
    for (const auto& p : principals.as_array())
      if (p.is_string()) add_unique(list, p.as_string());
    if (!list.as_array().empty()) out.set(name, std::move(list));
  }
  return out;
}

bool has_non_null_member(const json::value& obj) {
  return std::any_of(obj.as_object().begin(), obj.as_object().end(),
                     [](const json::member& m) { return !m.val.is_null(); });
}

/// JSON-Patch view of permissions: each name an object whose keys and values
/// are the principals; read and write always present.
json::value permissions_as_patch_document(kind k, const json::value& perms) {
  json::value doc = json::value::object();
  doc.set("read", json::value::object());
  doc.set("write", json::value::object());
  for (std::string_view name : permission_names(k)) {
    const json::value* list = perms.find(name);
    if (!list || !list->is_array()) continue;
    json::value set = json::value::object();
    for (const auto& p : list->as_array())
      if (p.is_string()) set.set(p.as_string(), p);
    doc.set(name, std::move(set));
  }
  return doc;
}

std::vector<std::string> members_of(const json::value& data) {
  std::vector<std::string> out;
  const json::value* m = data.find("members");
  if (!m || !m->is_array()) return out;
  for (const auto& p : m->as_array())
    if (p.is_string()) out.push_back(p.as_string());
  return out;
}

error id_mismatch() { return invalid_parameter("body", "id", "Object id does not match existing object"); }

} // namespace

std::optional<error> validate_data(kind k, const json::value& data) {
  if (k == kind::group) {
    if (const json::value* members = data.find("members")) {
      if (!members->is_array()) return invalid_parameter("body", "data.members", "Should be an array of strings");
      const auto& list = members->as_array();
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string name = "data.members." + std::to_string(i);
        if (!list[i].is_string()) return invalid_parameter("body", name, "Should be a string");
        const std::string& member = list[i].as_string();
        if (member == everyone || member.rfind("/buckets/", 0) == 0)
          return invalid_parameter("body", name, "'" + member + "' is not a valid user ID.");
      }
    }
  }
  if (k == kind::collection) {
    if (const json::value* expires = data.find("cache_expires")) {
      if (!expires->is_number() || !expires->is_integer())
        return invalid_parameter("body", "data.cache_expires", json::serialize(*expires) + " is not of type 'integer'");
    }
    if (const json::value* schema = data.find("schema")) {
      if (!schema->is_object())
        return invalid_parameter("body", "data.schema", json::serialize(*schema) + " is not of type 'object'");
      if (auto problem = json_schema::check_schema(*schema)) return invalid_parameter("body", "data.schema", *problem);
    }
  }
  if (k == kind::bucket) {
    for (std::string_view field : {"record:schema", "collection:schema", "group:schema"}) {
      const json::value* schema = data.find(field);
      if (!schema) continue;
      if (!schema->is_object())
        return invalid_parameter("body", "data." + std::string(field),
                                 json::serialize(*schema) + " is not of type 'object'");
      if (auto problem = json_schema::check_schema(*schema))
        return invalid_parameter("body", "data." + std::string(field), *problem);
    }
  }
  return std::nullopt;
}

std::optional<error> check_principal_lengths(kind k, const json::value& data, const json::value& permissions,
                                             const storage::key_limits& keys) {
  auto too_long = [&keys] { return "Principal longer than " + std::to_string(keys.principal_bytes()) + " bytes"; };
  for (const auto& [name, principals] : permissions.as_object()) {
    if (!principals.is_array()) continue;
    for (const auto& p : principals.as_array())
      if (p.is_string() && !keys.principal_fits(p.as_string()))
        return invalid_parameter("body", "permissions." + name, too_long());
  }
  if (k != kind::group) return std::nullopt;
  const json::value* members = data.find("members");
  if (!members || !members->is_array()) return std::nullopt;
  for (std::size_t i = 0; i < members->as_array().size(); ++i) {
    const json::value& m = members->as_array()[i];
    if (m.is_string() && !keys.principal_fits(m.as_string()))
      return invalid_parameter("body", "data.members." + std::to_string(i), too_long());
  }
  return std::nullopt;
}

std::variant<write_plan, error> plan_write(const list_key& list, const write_command& cmd,
                                           const current_state& current, std::uint64_t list_ts,
                                           std::uint64_t now, const storage::key_limits& keys) {
  const kind k = list.of;
  const bool exists = current.exists();
  std::optional<json::value> existing_data;
  if (exists) existing_data = parse_or_empty_object(current.object->data);
  auto precondition_error = [&]() -> error {
    return precondition_failed(exists ? existing_data : std::nullopt);
  };

  write_plan plan;
  plan.previous = current.object ? std::optional<std::uint64_t>(current.object->last_modified) : std::nullopt;

  if (cmd.op == write_op::touch) {
    // Only used when the store has no timestamp for the list; it must differ
    // from any the list had before (a re-created collection starts afresh).
    plan.touch = true;
    actors::stamp(plan, list_ts, now);
    return plan;
  }

  // Preconditions (concurrency.md §4.2); GET-style 304 is the reader's job.
  const auto& pre = cmd.pre;
  if ((cmd.op == write_op::patch || cmd.op == write_op::remove) && !exists) return object_not_found(cmd.id, kind_name(k));
  if (pre.if_none_match_any && exists) return precondition_error();
  if ((pre.if_match || pre.if_match_any) && !exists) return precondition_failed(std::nullopt);
  if (pre.if_match && exists && *pre.if_match != current.object->last_modified) return precondition_error();

  if (cmd.op == write_op::create && exists) {
    plan.needs_write = false;
    plan.object = *current.object;
    plan.object.permissions = json::serialize(current.permissions);
    plan.list_timestamp = list_ts;
    return plan;
  }

  // An object whose URI is too long for a key cannot be stored: refused as
  // an invalid id (resources.md §2.2), as early as a malformed id would be.
  if (cmd.op != write_op::remove && !keys.uri_fits(list, cmd.id))
    return invalid_parameter("path", std::nullopt, "Invalid object id");

  const json::value current_perms = normalized(k, current.permissions);

  if (cmd.op == write_op::remove) {
    std::optional<std::uint64_t> proposed = cmd.tombstone_timestamp;
    if (proposed && *proposed <= current.object->last_modified) proposed.reset();
    plan.proposed = proposed;
    plan.object = storage::object{0, true, {}, {}};
    actors::stamp(plan, list_ts, now);
    plan.erase_children = k == kind::bucket || k == kind::collection;
    if (k == kind::group) plan.members_removed = members_of(*existing_data);
    return plan;
  }

  // New data and permissions.
  json::value data = json::value::object();
  json::value perms = current_perms;
  const bool replacing = exists;
  switch (cmd.op) {
    case write_op::create:
    case write_op::put: {
      if (cmd.data) {
        data = *cmd.data;
        if (k == kind::group && !data.find("members")) data.set("members", json::value::array());
      } else if (replacing) {
        data = *existing_data;
      }
      if (!replacing) {
        perms = cmd.permissions ? normalized(k, *cmd.permissions) : json::value::object();
      } else if (cmd.permissions && has_non_null_member(*cmd.permissions)) {
        perms = normalized(k, *cmd.permissions);
      }
      break;
    }
    case write_op::patch: {
      data = *existing_data;
      if (cmd.format == patch_format::json_patch) {
        json::value doc = json::value::object();
        doc.set("data", data);
        doc.set("permissions", permissions_as_patch_document(k, current_perms));
        if (auto failure = json::apply_json_patch(doc, cmd.patch ? *cmd.patch : json::value::array()))
          return invalid_parameter("body", std::nullopt, "JSON Patch operation failed: " + *failure);
        const json::value* new_data = doc.find("data");
        const json::value* new_perms = doc.find("permissions");
        if (!new_data || !new_data->is_object())
          return invalid_parameter("body", "data", "JSON Patch operation failed: data is not an object");
        if (!new_perms || !new_perms->is_object())
          return invalid_parameter("body", "permissions", "JSON Patch operation failed: permissions is not an object");
        json::value rebuilt = json::value::object();
        for (const auto& [name, set] : new_perms->as_object()) {
          if (!is_permission_of(k, name))
            return invalid_parameter("body", std::nullopt, "JSON Patch operation failed: unknown permission '" + name + "'");
          json::value principals = json::value::array();
          if (set.is_object()) {
            for (const auto& m : set.as_object()) principals.as_array().emplace_back(m.key);
          } else if (set.is_array()) {
            for (const auto& p : set.as_array())
              if (!p.is_string())
                return invalid_parameter("body", "permissions." + name,
                                         "JSON Patch operation failed: " + json::serialize(p) + " is not a string");
            principals = set;
          } else {
            return invalid_parameter("body", "permissions." + name, "JSON Patch operation failed: not a list of principals");
          }
          rebuilt.set(name, std::move(principals));
        }
        data = *new_data;
        perms = normalized(k, rebuilt);
      } else {
        if (cmd.data) {
          if (cmd.format == patch_format::merge_patch) {
            json::merge_patch(data, *cmd.data);
          } else {
            for (const auto& [key, v] : cmd.data->as_object()) data.set(key, v);
          }
        }
        if (cmd.permissions) {
          if (cmd.format == patch_format::merge_patch) {
            json::value merged = current_perms;
            json::merge_patch(merged, *cmd.permissions);
            perms = normalized(k, merged);
          } else {
            for (const auto& [name, principals] : cmd.permissions->as_object()) {
              if (principals.is_null()) continue;
              perms.set(name, principals);
            }
            perms = normalized(k, perms);
          }
        }
      }
      break;
    }
    default: break;
  }

  // The id cannot change; client timestamps follow concurrency.md §2.3.
  if (const json::value* id = data.find("id"); id && !(id->is_string() && id->as_string() == cmd.id))
    return id_mismatch();
  std::optional<std::uint64_t> proposed = proposed_timestamp(data.find("last_modified"));
  if (proposed && replacing && *proposed <= current.object->last_modified) proposed.reset();
  if (auto invalid = validate_data(k, data)) return std::move(*invalid);
  if (cmd.validate) {
    // Schemas see the object with its id, as upstream validates
    // {id, ...data}: the id sent or the one of the URL; a POST without one
    // is validated before its id exists, as upstream does.
    if (!cmd.id_generated) data.set("id", json::value(cmd.id));
    if (auto invalid = cmd.validate(data)) return std::move(*invalid);
  }

  // `last_modified` goes last, so that stamping the plan only rewrites the
  // digits at the end of its text.
  data.erase("id");
  data.erase("last_modified");
  data.set("id", json::value(cmd.id));
  data.set("last_modified", json::value(0));

  if (cmd.explicit_permissions && !cmd.author.empty()) {
    json::value* writers = perms.find("write");
    if (!writers) {
      perms.set("write", json::value::array());
      writers = perms.find("write");
    }
    add_unique(*writers, cmd.author);
  }
  // Only now are the principals and members to store known (a JSON-Patch
  // may copy them from anywhere, the author is added).
  if (auto invalid = check_principal_lengths(k, data, perms, keys)) return std::move(*invalid);

  if (k == kind::group) {
    std::vector<std::string> before = exists ? members_of(*existing_data) : std::vector<std::string>{};
    std::vector<std::string> after = members_of(data);
    for (const auto& m : after)
      if (std::find(before.begin(), before.end(), m) == before.end()) plan.members_added.push_back(m);
    for (const auto& m : before)
      if (std::find(after.begin(), after.end(), m) == after.end()) plan.members_removed.push_back(m);
  }

  plan.created = !replacing;
  plan.object = storage::object{0, false, json::serialize(data), json::serialize(perms)};
  plan.stamp_at = plan.object.data.size() - 2; // ...,"last_modified":0}
  plan.proposed = proposed;
  actors::stamp(plan, list_ts, now);
  return plan;
}

current_state read_current(const storage::view& v, const list_key& list, const std::string& id) {
  current_state current;
  current.object = v.get(list, id); // with its permissions: one read
  if (current.exists() && !current.object->permissions.empty()) {
    std::string err;
    if (auto perms = json::parse(current.object->permissions, err)) current.permissions = std::move(*perms);
  }
  return current;
}

std::variant<planned_write, write_outcome> plan_against(const storage::view& v, const list_key& list,
                                                        const write_command& cmd, const storage::key_limits& keys) {
  current_state current;
  if (cmd.op != write_op::touch) current = read_current(v, list, cmd.id);
  return plan_on(v, current, list, cmd, keys);
}

std::variant<planned_write, write_outcome> plan_on(const storage::view& v, const current_state& current,
                                                   const list_key& list, const write_command& cmd,
                                                   const storage::key_limits& keys) {
  const std::uint64_t list_ts = v.list_timestamp(list).value_or(0);
  auto planned = plan_write(list, cmd, current, list_ts, actors::now_ms(), keys);
  if (auto* failure = std::get_if<error>(&planned)) {
    write_outcome outcome = actors::failed_with(std::move(*failure));
    // A 412 carries the current timestamp of its target (concurrency.md §3).
    outcome.last_modified = current.exists() ? current.object->last_modified : list_ts;
    return outcome;
  }
  planned_write w;
  w.id = cmd.id;
  w.author = cmd.author;
  w.plan = std::move(std::get<write_plan>(planned));
  w.plan.list_seen = list_ts;
  if (cmd.op == write_op::patch && current.exists()) w.previous = current.object->data;
  if (!w.plan.needs_write) return actors::outcome_of(w);
  return w;
}

} // namespace kinto::core
