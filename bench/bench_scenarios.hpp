// kinto-bench's Kinto side: the set-up of a server (bucket, collections,
// records loaded through /batch), its clean-up, and the workloads of the
// scenarios. Speaks through the load engine (bench_client.hpp); no Beast here.
#pragma once

#include "bench_client.hpp"
#include "bench_options.hpp"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace kinto::bench {

/// A set-up or clean-up step failed; what() says which request and why.
struct setup_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One server under test and what its set-up left there.
struct server_state {
  std::string label; ///< "A" or "B"
  server_url url;
  client_target target;
  bool prepared = false;          ///< set up by us: cleaned up at the end unless --keep
  std::string bucket = "bench";   ///< bucket of the run
  std::string collection = "c";   ///< collection holding the records
  std::size_t batch_max = 25;     ///< the server's settings.batch_max_requests
  std::string since;              ///< sync-poll: _since value returning the 10 newest records
  std::vector<std::string> etags; ///< update: ETag of each record after the set-up
  double setup_seconds = 0;
};

/// A server state for `url` with the credentials of `o` and labelled `label`.
server_state make_server(const options& o, const server_url& url, std::string label);

/// The record id of record `i` of a run: a UUID4-looking string derived
/// from `i`, so ids are known without reading them back.
std::string record_id(std::size_t i);

/// Checks that the server answers HTTP at `<prefix>/` (any status).
/// Throws setup_error when it cannot be reached.
void check_reachable(const server_state& s);

/// Creates a bucket `bench-<pid>-<time>-<label>` and collection `c`, loads
/// `o.records` records (~175 bytes each) through /batch pages of the
/// server's batch_max_requests over `o.setup_connections` connections,
/// creates `o.collections` extra collections `x0`, `x1`... of 10 records each
/// and reads each once, then notes what the scenario needs (sync-poll:
/// the `_since` value returning exactly 10 records, checked; update: ETags).
/// Progress goes to stderr for steps longer than a second. Sets `prepared`
/// as soon as the bucket exists. Throws setup_error on any unexpected
/// answer; stops early (throwing) when `*stop` becomes true.
void prepare(server_state& s, const options& o, const std::atomic<bool>* stop);

/// Deletes the bucket of a prepared server. Throws setup_error on failure.
void clean_up(const server_state& s);

/// The workload of `o.which` against `s` for `o.connections` connections.
std::unique_ptr<workload> make_workload(const options& o, const server_state& s);

} // namespace kinto::bench
