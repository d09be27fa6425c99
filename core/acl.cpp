#include "core/acl.hpp"

#include "base/json.hpp"

#include <algorithm>

namespace kinto::core {

acl acl::decode(std::string_view json_object) {
  if (json_object.empty() || json_object == "{}") return acl{};
  std::string err;
  auto parsed = json::parse(json_object, err);
  return parsed ? from(*parsed) : acl{};
}

acl acl::from(const json::value& permissions) {
  acl out;
  if (!permissions.is_object()) return out;
  for (const auto& [name, listed] : permissions.as_object()) {
    if (!listed.is_array()) continue;
    std::vector<std::string> principals;
    principals.reserve(listed.as_array().size());
    for (const auto& p : listed.as_array())
      if (p.is_string()) principals.push_back(p.as_string());
    out.entries_.emplace_back(name, std::move(principals));
  }
  return out;
}

std::span<const std::string> acl::principals(std::string_view name) const {
  for (const auto& [entry, principals] : entries_)
    if (entry == name) return principals;
  return {};
}

bool acl::grants(std::string_view name, std::span<const std::string> principals) const {
  for (const auto& listed : this->principals(name))
    if (std::find(principals.begin(), principals.end(), listed) != principals.end()) return true;
  return false;
}

} // namespace kinto::core
