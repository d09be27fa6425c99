#include "actors/edge.hpp"

namespace kinto::actors {

edge::edge(caf::actor_system& system) : unit_(&system) {
  handle_ = system.spawn<caf::actor_companion>();
  self_ = static_cast<caf::actor_companion*>(caf::actor_cast<caf::abstract_actor*>(handle_));
  // A behavior keeps the companion alive between answers.
  self_->become(caf::behavior{[](caf::ok_atom) {}});
  self_->on_enqueue([this](caf::mailbox_element_ptr ptr) {
    std::vector<std::function<void()>> ready;
    {
      std::lock_guard<std::recursive_mutex> lock(mutex_);
      auto* outer = ready_;
      ready_ = &ready;
      self_->activate(&unit_, *ptr);
      ready_ = outer;
    }
    for (auto& handler : ready) handler();
  });
}

edge::~edge() {
  {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    self_->on_enqueue(nullptr);
    self_->cleanup(caf::exit_reason::user_shutdown, &unit_);
  }
}

} // namespace kinto::actors
