// The directory of list actors and the bridge from callers' threads into the
// actor system. Jobs are sent while the directory shard is locked, so an
// actor never retires with a job on its way to it.
#include "actors/write_service.hpp"

#include "actors/committer.hpp"
#include "actors/list_actor.hpp"
#include "actors/permission_actor.hpp"

#include <array>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace kinto::actors {

namespace {

caf::actor_system_config& configured(caf::actor_system_config& cfg, std::size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", threads);
  cfg.set("logger.console", caf::atom("none"));
  // A shared queue wakes an idle worker at once; work stealing's polling
  // workers sleep between polls, which added up to ~100 µs to requests that
  // arrive while the server is quiet.
  cfg.set("scheduler.policy", caf::atom("sharing"));
  return cfg;
}

} // namespace

struct write_service::impl {
  struct slot {
    caf::actor actor;
    std::shared_ptr<std::atomic<std::size_t>> queued;
  };
  struct shard {
    std::mutex mutex;
    std::unordered_map<std::string, slot> lists;
  };

  impl(storage::store& s, write_service_options o)
      : store(s), options(o), system(configured(config, o.worker_threads)) {
    committer = spawn_committer(system, store);
    permissions = spawn_permission_actor(system, store, options.permission_cache_entries);
    auto ctx = std::make_shared<list_context>();
    ctx->store = &store;
    ctx->committer = committer;
    ctx->permissions = permissions;
    ctx->idle_retirement = options.idle_retirement;
    ctx->history = options.history;
    ctx->retire = [this](const std::string& list_id) { return retire(list_id); };
    context = std::move(ctx);
  }

  shard& shard_of(const std::string& list_id) { return shards[std::hash<std::string>{}(list_id) % shards.size()]; }

  bool retire(const std::string& list_id) {
    shard& sh = shard_of(list_id);
    std::lock_guard<std::mutex> lock(sh.mutex);
    auto it = sh.lists.find(list_id);
    if (it == sh.lists.end()) return true;
    if (it->second.queued->load(std::memory_order_acquire) != 0) return false;
    sh.lists.erase(it);
    return true;
  }

  storage::store& store;
  write_service_options options;
  caf::actor_system_config config;
  caf::actor_system system;
  caf::actor committer;
  caf::actor permissions;
  std::shared_ptr<const list_context> context;
  std::array<shard, 64> shards;
  std::atomic<bool> stopped{false};
};

write_service::write_service(storage::store& store, write_service_options options)
    : impl_(std::make_unique<impl>(store, options)) {}

write_service::~write_service() { shutdown(); }

void write_service::submit(const list_key& list, write_command cmd, std::function<void(write_outcome)> done) {
  const std::string list_id = storage::list_prefix(list);
  impl::shard& sh = impl_->shard_of(list_id);
  {
    std::lock_guard<std::mutex> lock(sh.mutex);
    if (!impl_->stopped) {
      auto it = sh.lists.find(list_id);
      if (it == sh.lists.end()) {
        auto queued = std::make_shared<std::atomic<std::size_t>>(0);
        it = sh.lists.emplace(list_id, impl::slot{spawn_list_actor(impl_->system, impl_->context, list, queued), queued})
               .first;
      }
      auto& slot = it->second;
      if (slot.queued->load(std::memory_order_relaxed) < impl_->options.max_pending_per_list) {
        slot.queued->fetch_add(1, std::memory_order_acq_rel);
        caf::anon_send(slot.actor, write_atom::value, write_job{std::move(cmd), std::move(done)});
        return;
      }
    }
  }
  done(failed_with(backend_unavailable()));
}

void write_service::run_exclusive(std::function<storage::status(storage::batch&)> apply,
                                  std::function<void(storage::status)> done) {
  caf::actor committer = impl_->committer;
  caf::actor permissions = impl_->permissions;
  impl_->system.spawn([committer, permissions, apply = std::move(apply), done = std::move(done)](caf::event_based_actor* self) {
    self->request(committer, caf::infinite, commit_atom::value, commit_job{apply})
      .then(
        [self, permissions, done](storage::status s) {
          // Such work may touch anything: the permission caches start afresh.
          invalidation all;
          all.everything = true;
          self->send(permissions, invalidate_atom::value, all);
          done(s);
        },
        [done](caf::error&) { done(storage::status::failed); });
  });
}

void write_service::authorize(authorization_request request, std::function<void(authorization)> done) {
  if (impl_->stopped) {
    // Shutting down: answer as for an anonymous caller with no rights.
    authorization none;
    none.principals.emplace_back(everyone);
    none.allowed.assign(request.checks.size(), false);
    none.holds.assign(request.holdings.size(), false);
    return done(std::move(none));
  }
  caf::anon_send(impl_->permissions, authorize_atom::value, authorization_job{std::move(request), std::move(done)});
}

std::size_t write_service::live_lists() const {
  std::size_t n = 0;
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> lock(sh.mutex);
    n += sh.lists.size();
  }
  return n;
}

void write_service::shutdown() {
  if (!impl_) return;
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> lock(sh.mutex);
    impl_->stopped = true;
    for (auto& [id, slot] : sh.lists) caf::anon_send_exit(slot.actor, caf::exit_reason::user_shutdown);
    sh.lists.clear();
  }
  impl_->context.reset();
  caf::anon_send_exit(impl_->committer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(impl_->permissions, caf::exit_reason::user_shutdown);
  impl_->committer = nullptr;
  impl_->permissions = nullptr;
  impl_.reset(); // the actor system's destructor waits for every actor
}

} // namespace kinto::actors
