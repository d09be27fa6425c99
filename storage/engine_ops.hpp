// The interface's classes over an engine's operations on one transaction:
// `view_over` forwards view's reads to `Ops`, `writer_over` also writer's
// writes, each through `Ops::guarded` (a write after a failure answers that
// failure). Each engine supplies its `Ops` (a transaction's operations) and
// derives its snapshot, savepoint and write transaction from these. Included
// by the engines' implementations only.
#pragma once

#include "storage/engine.hpp"

#include <utility>

namespace kinto::storage {

template <class Ops, class Interface> class view_over : public Interface {
public:
  std::optional<object> get(const list_key& list, std::string_view id) const override { return ops_.get(list, id); }
  std::optional<std::uint64_t> list_timestamp(const list_key& list) const override { return ops_.list_timestamp(list); }
  std::vector<std::string> groups_of_any(std::span<const std::string_view> principals) const override {
    return ops_.groups_of(principals);
  }
  void walk(const list_key& list, std::uint64_t after, std::uint64_t before, bool newest_first,
            const std::function<bool(const change&)>& visit,
            const std::function<bool(std::string_view id)>& wanted) const override {
    ops_.walk(list, after, before, newest_first, visit, wanted);
  }
  void walk_all(const list_key& list, const std::function<bool(const change&)>& visit) const override {
    ops_.walk_all(list, visit);
  }
  std::optional<std::string> meta(std::string_view key) const override { return ops_.meta(key); }

protected:
  explicit view_over(Ops ops) : ops_(std::move(ops)) {}
  Ops ops_;

private:
  std::optional<std::string> read_permissions(std::string_view uri) const override { return ops_.permissions(uri); }
  void walk_grants_in(std::string_view principal, const list_key* list, const grant_visitor& visit) const override {
    ops_.walk_grants(principal, list, visit);
  }
};

template <class Ops, class Interface> class writer_over : public view_over<Ops, Interface> {
public:
  status put(const list_key& list, std::string_view id, const object& obj,
             std::optional<std::uint64_t> previous) override {
    return this->ops_.guarded([&] { return this->ops_.put(list, id, obj, previous); });
  }
  status set_list_timestamp(const list_key& list, std::uint64_t ts) override {
    return this->ops_.guarded([&] { return this->ops_.set_list_timestamp(list, ts); });
  }
  status add_member(std::string_view principal, std::string_view group_uri) override {
    return this->ops_.guarded([&] { return this->ops_.add_member(principal, group_uri); });
  }
  status remove_member(std::string_view principal, std::string_view group_uri) override {
    return this->ops_.guarded([&] { return this->ops_.remove_member(principal, group_uri); });
  }
  status erase_children(std::string_view uri) override {
    return this->ops_.guarded([&] { return this->ops_.erase_children(uri); });
  }
  status erase_object(const list_key& list, std::string_view id) override {
    return this->ops_.guarded([&] { return this->ops_.erase_object(list, id); });
  }
  status forget_principal(std::string_view principal) override {
    return this->ops_.guarded([&] { return this->ops_.forget_principal(principal); });
  }
  status set_meta(std::string_view key, std::string_view value) override {
    return this->ops_.guarded([&] { return this->ops_.set_meta(key, value); });
  }
  status erase_everything() override {
    return this->ops_.guarded([&] { return this->ops_.erase_everything(); });
  }
  status failure() const override { return this->ops_.failure(); }

protected:
  using view_over<Ops, Interface>::view_over;
};

} // namespace kinto::storage
