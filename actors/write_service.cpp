// The directory of list actors and the bridge from callers' threads into the
// actor system. Jobs are sent while the directory shard is locked, so an
// actor never retires with a job on its way to it.
#include "actors/write_service.hpp"

#include "actors/committer.hpp"
#include "actors/edge.hpp"
#include "actors/list_actor.hpp"

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
    list_actor actor;
    std::shared_ptr<std::atomic<std::size_t>> queued;
  };
  struct shard {
    std::mutex mutex;
    std::unordered_map<std::string, slot> lists;
  };

  impl(storage::engine& e, write_service_options o)
      : engine(e), options(o), system(configured(config, o.worker_threads)) {
    committer = spawn_committer(system, committer_context{&engine, options.history, &sessions, &committed, &creations, &observed});
    for (auto& e : edges) e = std::make_unique<edge>(system);
    auto ctx = std::make_shared<list_context>();
    ctx->committer = committer;
    ctx->idle_retirement = options.idle_retirement;
    ctx->retire = [this](const std::string& list_id) { return retire(list_id); };
    context = std::move(ctx);
    // What other heads sharing the store committed: their creations, and
    // that the feed should look.
    engine.listen([this](const std::string& message) {
      if (creations.heard(message)) committed.raise();
    });
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

  void dispatch(const list_key& list, planned_write write, std::function<void(write_outcome)> done);
  void write_finished();
  void start_sessions_if_ready(std::unique_lock<std::mutex>& lock);
  void start_session(std::function<void(write_session&)> body, std::function<void(storage::status)> done);
  void session_finished();

  storage::engine& engine;
  write_service_options options;
  caf::actor_system_config config;
  caf::actor_system system;
  session_board sessions;
  commit_signal committed;
  commit_observer observed;
  creation_log creations;
  committer_actor committer;
  /// Callers reach the actors through the edge of their thread (declared
  /// after the system, so gone before it).
  std::array<std::unique_ptr<edge>, 16> edges;
  edge& edge_of_this_thread() {
    return *edges[std::hash<std::thread::id>{}(std::this_thread::get_id()) % edges.size()];
  }
  std::shared_ptr<const list_context> context;
  std::array<shard, 64> shards;
  std::atomic<bool> stopped{false};

  // The gate: a batch session runs only when no single write is in flight,
  // and single writes submitted while a session waits or runs are held
  // until it is over. The fast path of a write is two atomic operations.
  struct held_write {
    list_key list;
    planned_write write;
    std::function<void(write_outcome)> done;
  };
  struct waiting_session {
    std::function<void(write_session&)> body;
    std::function<void(storage::status)> done;
  };
  std::atomic<std::size_t> writes_in_flight{0};
  std::atomic<bool> gate_closed{false}; ///< a session waits or runs
  std::mutex gate_mutex;
  std::vector<held_write> held;
  std::vector<waiting_session> waiting;
  std::size_t sessions_running = 0;
};

void write_service::impl::dispatch(const list_key& list, planned_write write, std::function<void(write_outcome)> done) {
  // Counted until answered: a session starts only when nothing is in flight.
  auto counted = [this, done = std::move(done)](write_outcome outcome) {
    done(std::move(outcome));
    write_finished();
  };
  const std::string list_id = storage::list_id(list);
  shard& sh = shard_of(list_id);
  {
    std::lock_guard<std::mutex> lock(sh.mutex);
    if (!stopped) {
      auto it = sh.lists.find(list_id);
      if (it == sh.lists.end()) {
        auto queued = std::make_shared<std::atomic<std::size_t>>(0);
        it = sh.lists.emplace(list_id, slot{spawn_list_actor(system, context, list, queued), queued}).first;
      }
      auto& slot = it->second;
      if (slot.queued->load(std::memory_order_relaxed) < options.max_pending_per_list) {
        slot.queued->fetch_add(1, std::memory_order_acq_rel);
        auto shared = std::make_shared<decltype(counted)>(std::move(counted));
        edge_of_this_thread().request<write_outcome>(
          slot.actor, [shared](write_outcome& outcome) { (*shared)(std::move(outcome)); },
          [shared](caf::error&) { (*shared)(failed_with(backend_unavailable())); }, write_atom::value,
          std::move(write));
        return;
      }
    }
  }
  counted(failed_with(backend_unavailable(unavailable::write_queue)));
}

void write_service::impl::write_finished() {
  if (writes_in_flight.fetch_sub(1) == 1 && gate_closed.load()) {
    std::unique_lock<std::mutex> lock(gate_mutex);
    start_sessions_if_ready(lock);
  }
}

void write_service::impl::start_sessions_if_ready(std::unique_lock<std::mutex>& lock) {
  if (sessions_running != 0 || waiting.empty() || writes_in_flight.load() != 0) return;
  std::vector<waiting_session> ready;
  ready.swap(waiting);
  sessions_running = ready.size();
  lock.unlock();
  // Sent together, they reach the committer together: one fsync for all.
  for (auto& w : ready) start_session(std::move(w.body), std::move(w.done));
}

void write_service::impl::start_session(std::function<void(write_session&)> body,
                                        std::function<void(storage::status)> done) {
  auto outcome = std::make_shared<storage::status>(storage::status::failed);
  const std::uint64_t ticket =
    sessions.post([this, body = std::move(body), outcome](storage::write_transaction& group) {
      write_session session(engine, group, options.history, &creations);
      body(session);
      *outcome = session.finish();
      return storage::status::ok; // whatever the session did, the group is intact
    });
  auto shared_done = std::make_shared<std::function<void(storage::status)>>(std::move(done));
  edge_of_this_thread().request<storage::status>(
    committer,
    [this, outcome, shared_done](storage::status committed) {
      (*shared_done)(committed == storage::status::ok ? *outcome : committed);
      session_finished();
    },
    [this, shared_done](caf::error&) {
      (*shared_done)(storage::status::failed);
      session_finished();
    },
    session_atom::value, ticket);
}

void write_service::impl::session_finished() {
  std::vector<held_write> released;
  {
    std::unique_lock<std::mutex> lock(gate_mutex);
    if (--sessions_running != 0) return;
    released.swap(held);
    if (waiting.empty()) gate_closed = false;
    // Writes held meanwhile go first; sessions that arrived meanwhile
    // start once those are answered.
    writes_in_flight.fetch_add(released.size());
    if (released.empty()) start_sessions_if_ready(lock);
  }
  for (auto& w : released) dispatch(w.list, std::move(w.write), std::move(w.done));
}

write_service::write_service(storage::engine& engine, write_service_options options)
    : impl_(std::make_unique<impl>(engine, options)) {}

write_service::~write_service() { shutdown(); }

void write_service::submit(const list_key& list, planned_write write, std::function<void(write_outcome)> done) {
  impl_->writes_in_flight.fetch_add(1);
  if (impl_->gate_closed.load()) {
    std::unique_lock<std::mutex> lock(impl_->gate_mutex);
    if (impl_->gate_closed) {
      impl_->held.push_back(impl::held_write{list, std::move(write), std::move(done)});
      impl_->writes_in_flight.fetch_sub(1);
      impl_->start_sessions_if_ready(lock);
      return;
    }
  }
  impl_->dispatch(list, std::move(write), std::move(done));
}

void write_service::run_session(std::function<void(write_session&)> body, std::function<void(storage::status)> done) {
  std::unique_lock<std::mutex> lock(impl_->gate_mutex);
  impl_->waiting.push_back(impl::waiting_session{std::move(body), std::move(done)});
  impl_->gate_closed = true;
  impl_->start_sessions_if_ready(lock);
}

void write_service::run_exclusive(std::function<storage::status(storage::writer&)> apply,
                                  std::function<void(storage::status)> done) {
  auto status = std::make_shared<storage::status>(storage::status::failed);
  run_session([apply = std::move(apply), status](write_session& session) { *status = session.run(apply); },
              [status, done = std::move(done)](storage::status committed) {
                done(committed == storage::status::ok ? *status : committed);
              });
}

void write_service::on_commit(std::function<void()> hook) { impl_->committed.set(std::move(hook)); }

void write_service::observe_commits(std::function<void(const commit_figures&)> hook) {
  impl_->observed.set(std::move(hook));
}

std::size_t write_service::writes_pending() const { return impl_->writes_in_flight.load(std::memory_order_relaxed); }

const creation_log& write_service::creations() const { return impl_->creations; }

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
  impl_->engine.listen({});
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> lock(sh.mutex);
    impl_->stopped = true;
    for (auto& [id, slot] : sh.lists) caf::anon_send_exit(slot.actor, caf::exit_reason::user_shutdown);
    sh.lists.clear();
  }
  impl_->context.reset();
  caf::anon_send_exit(impl_->committer, caf::exit_reason::user_shutdown);
  impl_->committer = committer_actor{};
  impl_.reset(); // the actor system's destructor waits for every actor
}

} // namespace kinto::actors
