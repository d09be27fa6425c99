// The push scenario's client (push_client.hpp): Server-Sent Events streams on
// client threads, and a writer on a thread of its own, all over Beast.
#include "push_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <charconv>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace kinto::bench {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

/// The writes acknowledged and the events received, matched by timestamp.
struct ledger {
  struct write {
    steady::time_point ack;
    bool acked = false;
    bool measured = false;
    std::uint64_t early = 0; ///< events received before the acknowledgement
  };
  std::mutex mutex;
  std::unordered_map<std::uint64_t, write> writes;
  latency_histogram latency;
  std::uint64_t delivered = 0, events = 0, measured_writes = 0;
  std::atomic<bool> measuring{false};

  void acknowledged(std::uint64_t ts, bool measured) {
    std::lock_guard<std::mutex> lock(mutex);
    const auto now = steady::now();
    auto& w = writes[ts];
    w.ack = now;
    w.acked = true;
    w.measured = measured;
    if (!measured) return;
    ++measured_writes;
    for (std::uint64_t i = 0; i < w.early; ++i) latency.record(0);
    delivered += w.early;
  }
  void received(std::uint64_t ts) {
    std::lock_guard<std::mutex> lock(mutex);
    const auto now = steady::now();
    if (measuring) ++events;
    auto& w = writes[ts];
    if (!w.acked) {
      ++w.early;
    } else if (w.measured) {
      latency.record(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - w.ack).count()));
      ++delivered;
    }
  }
};

std::string request_text(const client_target& t, std::string_view method, const std::string& target,
                         std::string_view extra, const std::string& body) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(t.host).append(":");
  out.append(std::to_string(t.port)).append("\r\n");
  if (!t.authorization.empty()) out.append("Authorization: ").append(t.authorization).append("\r\n");
  out.append(extra);
  if (!body.empty() || method == "POST")
    out.append("Content-Type: application/json\r\nContent-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append("\r\n").append(body);
  return out;
}

/// The number after `"last_modified":` in a JSON text, 0 when absent.
std::uint64_t last_modified_in(std::string_view text) {
  constexpr std::string_view key = "\"last_modified\":";
  const auto at = text.find(key);
  if (at == std::string_view::npos) return 0;
  std::uint64_t ts = 0;
  const char* first = text.data() + at + key.size();
  std::from_chars(first, text.data() + text.size(), ts);
  return ts;
}

struct counters {
  std::atomic<std::size_t> opened{0}, failed{0};
  std::mutex mutex;
  std::string first_error;
  void fail(const std::string& why) {
    failed.fetch_add(1);
    std::lock_guard<std::mutex> lock(mutex);
    if (first_error.empty()) first_error = why;
  }
};

class subscriber : public std::enable_shared_from_this<subscriber> {
public:
  subscriber(asio::io_context& ioc, ledger& l, counters& c) : stream_(ioc), ledger_(l), counters_(c) {}

  void start(const tcp::endpoint& server, std::string request) {
    request_ = std::move(request);
    parser_.body_limit(boost::none);
    on_body_ = [this](std::uint64_t, std::string_view body, beast::error_code&) -> std::size_t {
      text_.append(body);
      return body.size();
    };
    parser_.on_chunk_body(on_body_);
    stream_.expires_after(std::chrono::seconds(30));
    stream_.async_connect(server, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->counters_.fail("connect: " + ec.message());
      asio::async_write(self->stream_, asio::buffer(self->request_), [self](beast::error_code wec, std::size_t) {
        if (wec) return self->counters_.fail("send: " + wec.message());
        http::async_read_header(self->stream_, self->buffer_, self->parser_, [self](beast::error_code rec, std::size_t) {
          if (rec) return self->counters_.fail("stream header: " + rec.message());
          if (self->parser_.get().result_int() != 200)
            return self->counters_.fail("stream refused: HTTP " + std::to_string(self->parser_.get().result_int()));
          self->counters_.opened.fetch_add(1);
          self->stream_.expires_never();
          self->read();
        });
      });
    });
  }

  void close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->stream_.socket().close(ignored);
    });
  }

private:
  void read() {
    http::async_read_some(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->take_events();
      if (!self->parser_.is_done()) self->read();
    });
  }

  void take_events() {
    std::size_t start = 0;
    for (;;) {
      const std::size_t end = text_.find("\n\n", start);
      if (end == std::string::npos) break;
      const std::string_view block(text_.data() + start, end - start);
      if (block.rfind("id: ", 0) == 0) {
        std::uint64_t ts = 0;
        std::from_chars(block.data() + 4, block.data() + block.size(), ts);
        if (ts) ledger_.received(ts);
      }
      start = end + 2;
    }
    text_.erase(0, start);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::response_parser<http::empty_body> parser_;
  std::function<std::size_t(std::uint64_t, std::string_view, beast::error_code&)> on_body_;
  std::string request_, text_;
  ledger& ledger_;
  counters& counters_;
};

} // namespace

push_result run_push(const client_target& target, const std::string& records, const push_limits& limits,
                     const std::atomic<bool>* stop) {
  push_result out;
  ledger book;
  counters streams;
  asio::io_context resolver_ioc;
  tcp::resolver resolver(resolver_ioc);
  beast::error_code ec;
  auto found = resolver.resolve(target.host, std::to_string(target.port), ec);
  if (ec || found.empty()) {
    out.errors = 1;
    out.first_error = "cannot resolve " + target.host;
    return out;
  }
  const tcp::endpoint server = *found.begin();
  auto stopped = [stop] { return stop && stop->load(); };

  // The subscribers, spread over the client threads.
  const std::size_t threads = std::max<std::size_t>(1, limits.threads);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (std::size_t i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>());
    guards.push_back(asio::make_work_guard(*contexts.back()));
  }
  std::vector<std::thread> pool;
  for (auto& ioc : contexts) pool.emplace_back([&ioc] { ioc->run(); });
  // The writer's connection, which first reads the list's timestamp: the
  // streams start from it (no backlog).
  asio::io_context writer_ioc;
  beast::tcp_stream writer(writer_ioc);
  writer.expires_after(std::chrono::seconds(30));
  writer.connect(server, ec);
  beast::flat_buffer buffer;
  std::string since;
  if (!ec) {
    asio::write(writer.socket(), asio::buffer(request_text(target, "GET", records + "?_limit=1", "", "")), ec);
    http::response<http::string_body> res;
    if (!ec) http::read(writer.socket(), buffer, res, ec);
    if (!ec) {
      since = std::string(res[http::field::etag]);
      since.erase(std::remove(since.begin(), since.end(), '"'), since.end());
    }
  }
  if (ec || since.empty()) {
    for (auto& g : guards) g.reset();
    for (auto& t : pool) t.join();
    out.errors = 1;
    out.first_error = "cannot read the list's timestamp" + (ec ? ": " + ec.message() : std::string());
    return out;
  }
  const std::string stream_request =
    request_text(target, "GET", records + "?_since=" + since, "Accept: text/event-stream\r\n", "");
  std::vector<std::shared_ptr<subscriber>> subscribers;
  for (std::size_t i = 0; i < limits.subscribers; ++i) {
    auto s = std::make_shared<subscriber>(*contexts[i % threads], book, streams);
    asio::post(*contexts[i % threads], [s, server, stream_request] { s->start(server, stream_request); });
    subscribers.push_back(std::move(s));
  }
  const auto open_deadline = steady::now() + std::chrono::seconds(60);
  while (streams.opened + streams.failed < limits.subscribers && steady::now() < open_deadline && !stopped())
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  out.subscribers = streams.opened;

  // The writer: one connection, one POST every 1/rate seconds (sooner when
  // an answer came late), on this thread.
  // The writes: at the rate whatever their latency, spread over a few
  // connections (the first is the one opened above), each on its own
  // thread with its share of the schedule.
  constexpr std::size_t writers = 4;
  const auto interval = std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(writers / limits.rate));
  const auto begin = steady::now();
  const auto measure_from = begin + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(limits.warmup));
  const auto end = measure_from + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(limits.duration));
  const std::string body = R"({"data": {"title": "pushed", "n": 1}})";
  const std::string post = request_text(target, "POST", records, "", body);
  std::atomic<std::uint64_t> write_errors{0};
  auto write_loop = [&](beast::tcp_stream& conn, beast::flat_buffer& buf, std::size_t k) {
    beast::error_code wec;
    auto next = begin + interval * static_cast<long>(k) / static_cast<long>(writers);
    while (steady::now() < end && !stopped()) {
      std::this_thread::sleep_until(next);
      next += interval;
      const bool measured = steady::now() >= measure_from;
      if (measured && !book.measuring) book.measuring = true;
      asio::write(conn.socket(), asio::buffer(post), wec);
      http::response<http::string_body> res;
      if (!wec) http::read(conn.socket(), buf, res, wec);
      if (wec) break;
      if (res.result_int() != 201) {
        ++write_errors;
        continue;
      }
      if (const std::uint64_t ts = last_modified_in(res.body())) book.acknowledged(ts, measured);
    }
    if (wec) {
      ++write_errors;
      std::lock_guard<std::mutex> lock(streams.mutex);
      if (streams.first_error.empty()) streams.first_error = "writer: " + wec.message();
    }
  };
  std::vector<std::thread> writing;
  std::vector<std::unique_ptr<asio::io_context>> writer_contexts;
  std::vector<std::unique_ptr<beast::tcp_stream>> writer_conns;
  std::vector<beast::flat_buffer> writer_buffers(writers);
  for (std::size_t k = 1; k < writers; ++k) {
    writer_contexts.push_back(std::make_unique<asio::io_context>());
    writer_conns.push_back(std::make_unique<beast::tcp_stream>(*writer_contexts.back()));
    beast::error_code cec;
    writer_conns.back()->socket().connect(server, cec);
    if (cec) {
      ++write_errors;
      continue;
    }
    writing.emplace_back(write_loop, std::ref(*writer_conns.back()), std::ref(writer_buffers[k]), k);
  }
  write_loop(writer, buffer, 0);
  for (auto& t : writing) t.join();
  book.measuring = false;
  // The events of the last writes.
  const auto drain_until = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(limits.drain));
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(book.mutex);
      if (book.delivered >= book.measured_writes * out.subscribers) break;
    }
    if (steady::now() >= drain_until || stopped()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& s : subscribers) s->close();
  guards.clear();
  for (auto& t : pool) t.join();

  std::lock_guard<std::mutex> lock(book.mutex);
  out.writes = book.measured_writes;
  out.expected = book.measured_writes * out.subscribers;
  out.delivered = book.delivered;
  out.events = book.events;
  out.seconds = limits.duration;
  out.latency = book.latency;
  out.errors = streams.failed + write_errors.load();
  out.first_error = streams.first_error;
  return out;
}

} // namespace kinto::bench
