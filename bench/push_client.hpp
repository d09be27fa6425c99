// The push scenario of kinto-bench: subscribers of one list's change feed
// (Server-Sent Events) and one writer at a fixed rate, timing each event
// from its write's acknowledgement to its arrival. The interface hides
// Beast; only push_client.cpp includes it.
#pragma once

#include "bench_client.hpp"
#include "bench_stats.hpp"

#include <atomic>
#include <cstddef>
#include <string>

namespace kinto::bench {

struct push_limits {
  std::size_t subscribers = 1000;
  std::size_t threads = 1;  ///< client threads for the subscribers (the writer has its own)
  double rate = 100;        ///< writes per second
  double warmup = 2;        ///< seconds written before measuring
  double duration = 10;     ///< seconds measured
  double drain = 5;         ///< seconds left for the events of the last writes to arrive
};

struct push_result {
  std::size_t subscribers = 0;    ///< streams open when writing began
  std::uint64_t writes = 0;       ///< acknowledged writes of the measured window
  std::uint64_t expected = 0;     ///< their events: writes x subscribers
  std::uint64_t delivered = 0;    ///< of those, events received
  std::uint64_t events = 0;       ///< every event received during the window
  double seconds = 0;             ///< measured window
  std::uint64_t errors = 0;       ///< failed writes and streams
  std::string first_error;
  /// Acknowledgement of a write to the event's arrival, per event; an event
  /// that arrives before its write's answer counts 0.
  latency_histogram latency;
  double events_per_second() const noexcept { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};

/// Opens `limits.subscribers` streams of `records` (a plural path with its
/// prefix, "/v1/buckets/b/collections/c/records"), then POSTs a small
/// record there every 1/rate seconds for warmup + duration, waits up to
/// `drain` for the events still due, and closes everything.
push_result run_push(const client_target& target, const std::string& records, const push_limits& limits,
                     const std::atomic<bool>* stop = nullptr);

} // namespace kinto::bench
