// The edge between callers' threads (I/O threads, tests) and the actors: an
// actor_companion per edge sends requests on a caller's behalf, and runs
// their response handlers when the answer is delivered, on the delivering
// thread, after the edge's lock is released. Callers pick an edge by their
// thread, so that threads rarely share one. Internal to actors/.
#pragma once

#include <caf/actor_companion.hpp>
#include <caf/all.hpp>
#include <caf/scoped_execution_unit.hpp>

#include <functional>
#include <mutex>
#include <vector>

namespace kinto::actors {

class edge {
public:
  explicit edge(caf::actor_system& system);
  ~edge();
  edge(const edge&) = delete;
  edge& operator=(const edge&) = delete;

  /// Sends `(xs...)` to `dest` as a request; `on_answer(R&)` or
  /// `on_error(caf::error&)` runs once, with the response.
  template <class R, class Handle, class OnAnswer, class OnError, class... Ts>
  void request(const Handle& dest, OnAnswer on_answer, OnError on_error, Ts&&... xs) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    const caf::message_id id = self_->new_request_id(caf::message_priority::normal);
    self_->add_multiplexed_response_handler(
      id.response_id(),
      caf::behavior{[this, on_answer](R& answer) mutable {
                      ready_->emplace_back([on_answer = std::move(on_answer), answer = std::move(answer)]() mutable {
                        on_answer(answer);
                      });
                    },
                    [this, on_error](caf::error& e) mutable {
                      ready_->emplace_back([on_error = std::move(on_error), e = std::move(e)]() mutable { on_error(e); });
                    }});
    caf::actor_cast<caf::abstract_actor*>(dest)->enqueue(
      caf::make_mailbox_element(self_->ctrl(), id, {}, std::forward<Ts>(xs)...), nullptr);
  }

private:
  std::recursive_mutex mutex_;
  caf::scoped_execution_unit unit_;
  caf::actor handle_;
  caf::actor_companion* self_ = nullptr;
  /// Handlers made ready by the answer being delivered, run once the lock is released.
  std::vector<std::function<void()>>* ready_ = nullptr;
};

} // namespace kinto::actors
