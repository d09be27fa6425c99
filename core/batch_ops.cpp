// A batch's operations in order (batch-and-plugins.md §1.4).
#include "core/ops.hpp"

#include <memory>

namespace kinto::core {

namespace {

/// In a transaction everything answers before it returns: each operation
/// settles inline, and the batch's rules apply between them.
std::size_t run_in(transaction& t, std::vector<operation>& ops) {
  std::size_t ran = 0;
  for (auto& op : ops) {
    int status = 0;
    op(t, [&status](int s) { status = s; });
    ++ran;
    if (status == 0) {
      // Not settled inline: nothing of the batch can be kept.
      t.abort();
      break;
    }
    if (status >= 500) {
      t.abort();
      break;
    }
    if (status == 409) t.roll_back();
  }
  return ran;
}

struct sequence {
  port& p;
  std::vector<operation> ops;
  std::function<void(std::size_t, storage::status)> done;
  std::size_t next = 0;
};

/// Outside a transaction an operation may settle later, on another thread:
/// the next one starts from its answer.
void run_from(const std::shared_ptr<sequence>& s) {
  if (s->next == s->ops.size()) return s->done(s->next, storage::status::ok);
  operation& op = s->ops[s->next++];
  op(s->p, [s](int status) {
    if (status >= 500) return s->done(s->next, storage::status::ok);
    run_from(s);
  });
}

} // namespace

void op_batch(port& p, std::vector<operation> ops, bool writes, std::function<void(std::size_t, storage::status)> done) {
  if (!writes) return run_from(std::make_shared<sequence>(sequence{p, std::move(ops), std::move(done)}));
  auto pending = std::make_shared<std::vector<operation>>(std::move(ops));
  auto ran = std::make_shared<std::size_t>(0);
  p.transact([pending, ran](transaction& t) { *ran = run_in(t, *pending); },
             [ran, done = std::move(done)](storage::status s) { done(*ran, s); });
}

} // namespace kinto::core
