#include "core/objects.hpp"

#include "base/json.hpp"

#include <algorithm>
#include <cctype>

namespace kinto::core {

std::optional<error> missing_owner(const storage::view& v, const list_key& list) {
  auto owner = owner_of(list.parent);
  if (!owner) return std::nullopt;
  auto obj = v.get(owner->list, owner->id);
  if (obj && !obj->deleted) return std::nullopt;
  return parent_not_found(owner->id, kind_name(owner->list.of));
}

bool is_account_admin(const rules& r, const caller& who, bool write) {
  return who.holds_any(r.account_write_principals) || (!write && who.holds_any(r.account_read_principals));
}

std::optional<error> account_access(const rules& r, const caller& who, std::string_view id, bool write) {
  if (is_account_admin(r, who, write)) return std::nullopt;
  if (who.user_id == "account:" + std::string(id)) return std::nullopt;
  return who.authenticated() ? forbidden() : unauthorized();
}

std::optional<error> account_creation(const rules& r, const caller& who, std::string_view id) {
  const bool admin = is_account_admin(r, who, true);
  if (!admin && !who.holds_any(r.account_create_principals)) return who.authenticated() ? forbidden() : unauthorized();
  if (who.authenticated() && !admin && who.user_id != "account:" + std::string(id))
    return invalid_parameter("body", "data.id", "Username and account ID do not match.");
  return std::nullopt;
}

std::optional<error> account_password(bool replacing, const std::optional<json::value>& data) {
  const json::value* password = data ? data->find("password") : nullptr;
  if (replacing && (!password || !password->is_string()))
    return invalid_parameter("body", "data.password", "Required");
  if (password && !password->is_string())
    return invalid_parameter("body", "data.password", json::serialize(*password) + " is not a string");
  return std::nullopt;
}

std::vector<json::value*> clear_passwords(actors::write_command& cmd) {
  std::vector<json::value*> clear;
  if (cmd.data)
    if (json::value* p = cmd.data->find("password"); p && p->is_string()) clear.push_back(p);
  if (cmd.patch && cmd.patch->is_array()) {
    for (auto& op : cmd.patch->as_array()) {
      const json::value* path = op.find("path");
      json::value* value = op.find("value");
      if (!path || !path->is_string() || !value) continue;
      if (path->as_string() == "/data/password" && value->is_string()) clear.push_back(value);
      if (path->as_string() == "/data" && value->is_object())
        if (json::value* p = value->find("password"); p && p->is_string()) clear.push_back(p);
    }
  }
  return clear;
}

permissions::action needed_for_write(actors::write_op op, bool exists, const actors::preconditions& pre) {
  if (op == actors::write_op::put) {
    const bool creating = !exists || pre.if_none_match_any;
    return creating ? permissions::action::create : permissions::action::write;
  }
  return exists ? permissions::action::write : permissions::action::read_all;
}

std::optional<std::int64_t> cache_seconds(const rules& r, const caller& who, const storage::view& v,
                                          const list_key& list) {
  if (who.authenticated()) return std::nullopt;
  auto seconds = [&](std::string name) -> std::optional<std::int64_t> {
    if (r.cache_expires.empty()) return std::nullopt;
    // Setting names are lower-case, as the ini file's keys are read.
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const auto it = r.cache_expires.find(name);
    return it == r.cache_expires.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
  };
  std::optional<std::int64_t> expires;
  if (list.of == kind::record) {
    auto owner = owner_of(list.parent); // the collection
    auto bucket = owner ? owner_of(owner->list.parent) : std::nullopt;
    const std::string bid = bucket ? bucket->id : "", cid = owner ? owner->id : "";
    for (const std::string& name : {bid + "." + cid + ".record_cache_expires_seconds", bid + ".record_cache_expires_seconds",
                                    std::string("record_cache_expires_seconds"), bid + "_" + cid + "_record_cache_expires_seconds",
                                    bid + "_record_cache_expires_seconds"})
      if ((expires = seconds(name))) break;
    if (owner) {
      auto collection = v.get(owner->list, owner->id);
      std::string err;
      auto data = collection && !collection->deleted ? json::parse(collection->data, err) : std::nullopt;
      const json::value* value = data ? data->find("cache_expires") : nullptr;
      if (value && value->as_int64()) expires = expires ? std::max(*expires, *value->as_int64()) : *value->as_int64();
    }
  } else if (list.of != kind::account) {
    expires = seconds(std::string(kind_name(list.of)) + "_cache_expires_seconds");
    if (expires && *expires == 0) expires.reset();
  }
  return expires;
}

std::string shape_patch_response(std::string_view behaviour, const json::value& sent, std::string_view previous_text,
                                 std::string_view stored_text) {
  if (behaviour.empty() || behaviour == "full") return std::string(stored_text);
  std::string err;
  auto stored = json::parse(stored_text, err);
  auto previous = json::parse(previous_text.empty() ? "{}" : previous_text, err);
  json::value out = json::value::object();
  if (stored && previous && sent.is_object()) {
    for (const auto& [key, value] : sent.as_object()) {
      const json::value* now = stored->find(key);
      const json::value* before = previous->find(key);
      const bool changed = (now == nullptr) != (before == nullptr) || (now && before && *now != *before);
      if (!changed || !now) continue;
      if (behaviour == "light" || *now != value) out.set(key, *now);
    }
  }
  return json::serialize(out);
}

} // namespace kinto::core
