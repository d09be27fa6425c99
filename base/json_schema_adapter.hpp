// Internal to base/: the valijson adapter reading kinto::json::value in
// place, and the Boost.Regex matching that replaces valijson's std::regex.
// Depends on base/json.hpp, valijson and Boost.Regex only; never include it outside base/.
#pragma once

// Without this valijson reports a malformed schema by calling abort().
#define VALIJSON_USE_EXCEPTIONS 1

#include "base/json.hpp"

#include <valijson/internal/adapter.hpp>
#include <valijson/internal/basic_adapter.hpp>
#include <valijson/internal/frozen_value.hpp>
#include <valijson/validation_visitor.hpp>

#include <boost/regex.hpp>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

namespace kinto::json_schema {

// ---------------------------------------------------------------------------
// valijson adapter: read-only views over json::value, no copies.

class node;
class array_iterator;
class member_iterator;
using node_member = std::pair<std::string, node>;

const json::value& empty_object_value();
const json::array_t& empty_array();
const json::object_t& empty_object();

/// jsonschema counts any number without a fractional part as an integer
/// (1.0, 1e3), whatever its size.
bool is_integral(const json::value& v);

/// The number as an int64 when it is integral and fits, else nullopt.
std::optional<std::int64_t> exact_int64(const json::value& v);

class array_view {
public:
  using const_iterator = array_iterator;
  using iterator = array_iterator;
  array_view() : items_(&empty_array()) {}
  explicit array_view(const json::array_t& items) : items_(&items) {}
  array_iterator begin() const;
  array_iterator end() const;
  std::size_t size() const { return items_->size(); }

private:
  const json::array_t* items_;
};

class object_view {
public:
  using const_iterator = member_iterator;
  using iterator = member_iterator;
  object_view() : members_(&empty_object()) {}
  explicit object_view(const json::object_t& members) : members_(&members) {}
  member_iterator begin() const;
  member_iterator end() const;
  member_iterator find(const std::string& key) const;
  std::size_t size() const { return members_->size(); }

private:
  const json::object_t* members_;
};

/// An owned copy, kept by the compiled schema for `enum` and `const`.
class frozen_value final : public valijson::adapters::FrozenValue {
public:
  explicit frozen_value(json::value v) : value_(std::move(v)) {}
  FrozenValue* clone() const override { return new frozen_value(value_); }
  bool equalTo(const valijson::adapters::Adapter& other, bool strict) const override;

private:
  json::value value_;
};

/// What BasicAdapter needs to read one value; BasicAdapter adds valijson's
/// conversion rules on top. Numbers that do not fit an int64 (big or
/// fractional) report isDouble() so that valijson reads them as doubles.
class value_view {
public:
  value_view() : v_(&empty_object_value()) {}
  value_view(const json::value& v) : v_(&v) {}

  valijson::adapters::FrozenValue* freeze() const { return new frozen_value(*v_); }
  std::optional<array_view> getArrayOptional() const {
    if (!v_->is_array()) return std::nullopt;
    return array_view(v_->as_array());
  }
  bool getArraySize(std::size_t& n) const {
    if (!v_->is_array()) return false;
    n = v_->as_array().size();
    return true;
  }
  bool getBool(bool& b) const {
    if (!v_->is_bool()) return false;
    b = v_->as_bool();
    return true;
  }
  bool getDouble(double& d) const {
    if (!v_->is_number()) return false;
    d = v_->as_double();
    return true;
  }
  bool getInteger(std::int64_t& n) const {
    const auto i = exact_int64(*v_);
    if (!i) return false;
    n = *i;
    return true;
  }
  std::optional<object_view> getObjectOptional() const {
    if (!v_->is_object()) return std::nullopt;
    return object_view(v_->as_object());
  }
  bool getObjectSize(std::size_t& n) const {
    if (!v_->is_object()) return false;
    n = v_->as_object().size();
    return true;
  }
  bool getString(std::string& s) const {
    if (!v_->is_string()) return false;
    s = v_->as_string();
    return true;
  }
  static bool hasStrictTypes() { return true; }
  bool isArray() const { return v_->is_array(); }
  bool isBool() const { return v_->is_bool(); }
  bool isDouble() const { return v_->is_number() && !exact_int64(*v_); }
  bool isInteger() const { return is_integral(*v_); }
  bool isNull() const { return v_->is_null(); }
  bool isNumber() const { return v_->is_number(); }
  bool isObject() const { return v_->is_object(); }
  bool isString() const { return v_->is_string(); }

private:
  const json::value* v_;
};

class node : public valijson::adapters::BasicAdapter<node, array_view, node_member, object_view, value_view> {
public:
  node() : json_(&empty_object_value()) {}
  node(const json::value& v) : BasicAdapter(value_view(v)), json_(&v) {}
  const json::value& json() const { return *json_; }

private:
  const json::value* json_;
};

class array_iterator {
public:
  using iterator_category = std::bidirectional_iterator_tag;
  using value_type = node;
  using difference_type = std::ptrdiff_t;
  using pointer = node*;
  using reference = node&;

  explicit array_iterator(json::array_t::const_iterator it) : it_(it) {}
  node operator*() const { return node(*it_); }
  valijson::adapters::DerefProxy<node> operator->() const { return valijson::adapters::DerefProxy<node>(**this); }
  bool operator==(const array_iterator& other) const { return it_ == other.it_; }
  bool operator!=(const array_iterator& other) const { return it_ != other.it_; }
  array_iterator& operator++() {
    ++it_;
    return *this;
  }
  array_iterator operator++(int) {
    array_iterator before = *this;
    ++it_;
    return before;
  }
  array_iterator& operator--() {
    --it_;
    return *this;
  }
  void advance(std::ptrdiff_t n) { it_ += n; }

private:
  json::array_t::const_iterator it_;
};

class member_iterator {
public:
  using iterator_category = std::bidirectional_iterator_tag;
  using value_type = node_member;
  using difference_type = std::ptrdiff_t;
  using pointer = node_member*;
  using reference = node_member&;

  explicit member_iterator(json::object_t::const_iterator it) : it_(it) {}
  node_member operator*() const { return node_member(it_->key, node(it_->val)); }
  valijson::adapters::DerefProxy<node_member> operator->() const {
    return valijson::adapters::DerefProxy<node_member>(**this);
  }
  bool operator==(const member_iterator& other) const { return it_ == other.it_; }
  bool operator!=(const member_iterator& other) const { return it_ != other.it_; }
  member_iterator& operator++() {
    ++it_;
    return *this;
  }
  member_iterator operator++(int) {
    member_iterator before = *this;
    ++it_;
    return before;
  }
  member_iterator& operator--() {
    --it_;
    return *this;
  }

private:
  json::object_t::const_iterator it_;
};

boost::regex make_regex(const std::string& pattern);

/// Throws std::runtime_error when the match is too expensive to finish.
bool regex_matches(const boost::regex& re, const std::string& text);

} // namespace kinto::json_schema

template <> struct valijson::adapters::AdapterTraits<kinto::json_schema::node> {
  using DocumentType = kinto::json::value;
  static std::string adapterName() { return "KintodJsonAdapter"; }
};

// Defined in json_schema_adapter.cpp; declared here so that no translation
// unit instantiates valijson's own versions.
template <>
bool valijson::ValidationVisitor<kinto::json_schema::node>::visit(const constraints::PatternConstraint& constraint);
template <>
bool valijson::ValidationVisitor<valijson::adapters::StdStringAdapter>::visit(
    const constraints::PatternConstraint& constraint);
template <>
bool valijson::ValidationVisitor<kinto::json_schema::node>::visit(const constraints::PropertiesConstraint& constraint);
template <>
bool valijson::ValidationVisitor<kinto::json_schema::node>::visit(const constraints::UniqueItemsConstraint&);
