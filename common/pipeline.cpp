// HTTP/1.1 pipelining (session_options::pipeline above 1). A request is an exchange, allocated with
// its handler (for get(), the one that resumes the request's coroutine): it joins a connection
// that has room (fewer than `depth` requests) and appends its bytes to what the connection will
// write next. Each connection has at most one writer and one reader coroutine: the writer sends a
// batch, everything that has collected, in one write; the reader parses the responses in order and
// hands each to the exchange at the front of the queue, whose handler runs there and then when it
// shares the session's executor. A connection writes its next batch once the last one is all
// answered, as wrk's pipelining does: writing each refill as it comes would cost a write per
// request again. And the writer waits for the queue to stop growing before it writes, because the
// refills of the freed places may come a few event-loop turns apart.
//
// Requests one at a time (pipeline 1) do not come here: session.cpp's get_one() sends them in the
// request's own coroutine, which costs a third fewer instructions and one allocation per request
// instead of nine (docs/performance/session-engines.txt).
#include "common/pipeline.hpp"

#include "common/asio_compat.hpp"
#include "common/connection.hpp"
#include "common/errors.hpp"
#include "common/url.hpp"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <system_error>
#include <utility>

namespace common::detail {

namespace {

constexpr auto use_tuple = compat::as_tuple(asio::use_awaitable);

asio::awaitable<void> write_requests(std::shared_ptr<pool> p, connection& c);
asio::awaitable<void> read_responses(std::shared_ptr<pool> p, connection& c);

// A connection with room for another request: the one on top of `room`, or a new one.
connection& pick(pool& p) {
  while (!p.room.empty()) {
    auto* c = p.room.back();
    if (!c->retired && c->queue.size() < p.depth) return *c;
    c->listed = false;
    p.room.pop_back();
  }
  auto& c = p.open();
  c.listed = true;
  p.room.push_back(&c);
  return c;
}

void relist(pool& p, connection& c) {
  if (c.listed || c.retired || c.queue.size() >= p.depth) return;
  c.listed = true;
  p.room.push_back(&c);
}

void join(pool& p, connection& c, exchange& x) {
  x.current = exchange::state::queued;
  if (c.queue.empty()) {
    c.busy = true;
    ++p.busy;
  }
  c.queue.push_back(&x);
  x.on = &c;
  c.append_request(x.target, p.authority);
  if (c.queue.size() >= p.depth && !p.room.empty() && p.room.back() == &c) {
    c.listed = false;
    p.room.pop_back();
  }
}

exchange& leave_front(pool& p, connection& c) {
  auto& x = *c.queue.front();
  c.queue.pop_front();
  if (c.sent > 0) --c.sent;
  if (c.queue.empty()) {
    c.busy = false;
    c.deadline = clock::time_point::max();
    if (--p.busy == 0) p.watchdog.cancel();
  }
  relist(p, c);
  return x;
}

// Hands a request its response, or its failure: once, and then it is gone. `on_io`: the caller
// runs on the session's executor (its reader does).
void answer(pool& p, exchange& x, response r, bool on_io = false) {
  x.current = exchange::state::answered;
  x.owner = nullptr;
  x.complete(p.executor, std::move(r), on_io);
}

// A failed connection takes requests again once its writer and reader have both stopped.
void recycle(pool& p, connection& c) {
  if (!c.retired || c.writing || c.reading) return;
  c.retired = false;
  relist(p, c);
}

void enqueue(const std::shared_ptr<pool>& p, exchange& x) {
  auto& c = pick(*p);
  x.owner = p.get();
  join(*p, c, x);
  if (!c.writing && c.sent == 0) { // else it goes with the next batch
    c.writing = true;
    asio::co_spawn(p->executor, write_requests(p, c), rethrow);
  }
  watch(p);
}

// Ends a pipelined connection. Each request on it that saw no byte of its response is sent again
// elsewhere if the connection answered some request before (so the retries end: each one needs a
// connection that answered a request), and fails otherwise. `fall_back` (a timeout, a
// `Connection: close`) turns pipelining off when requests were left unanswered behind answered
// ones.
void fail(const std::shared_ptr<pool>& p, connection& c, std::string_view step, std::error_code ec,
          bool fall_back) {
  if (ec == asio::error::operation_aborted && c.timed_out)
    ec = std::make_error_code(std::errc::timed_out);
  bool progress = c.exchanges > 0, started = c.received, unanswered = c.sent > 0;
  c.retired = true;
  ++c.generation;
  c.close();
  c.request.clear();
  exchange_queue failed, again; // answered and retried once the connection is in order
  for (bool front = true; !c.queue.empty(); front = false) {
    auto& x = leave_front(*p, c);
    bool retry = progress && !(front && started) && !x.cancelled;
    x.current = retry ? exchange::state::retry : exchange::state::answered;
    (retry ? again : failed).push_back(&x);
  }
  c.sent = 0;
  if (fall_back && progress && unanswered) p->depth = 1;
  recycle(*p, c);
  while (!failed.empty()) {
    auto& x = *failed.front();
    failed.pop_front();
    if (x.cancelled)
      answer(*p, x, response{.step = "read", .error = asio::error::operation_aborted});
    else
      answer(*p, x, response{.step = step, .error = ec});
  }
  while (!again.empty()) {
    auto& x = *again.front();
    again.pop_front();
    enqueue(p, x);
  }
}

// The answer to a request whose URL is not this session's, posted: a handler is never called
// inside the call that started its operation. Destroyed unrun, the executor is gone.
struct posted_refusal {
  std::shared_ptr<pool> p;
  exchange* x;
  posted_refusal(std::shared_ptr<pool> p, exchange* x) noexcept : p(std::move(p)), x(x) {}
  posted_refusal(posted_refusal&& other) noexcept
      : p(std::move(other.p)), x(std::exchange(other.x, nullptr)) {}
  ~posted_refusal() {
    if (x) x->discard();
  }
  void operator()() {
    answer(*p, *std::exchange(x, nullptr),
           response{.step = "url", .error = std::make_error_code(std::errc::invalid_argument)});
  }
};

} // namespace

void send(const std::shared_ptr<pool>& p, exchange* x) {
  std::string_view authority;
  if (!split_url(x->url, authority, x->target) || authority != p->authority)
    return asio::post(p->executor, posted_refusal(p, x));
  enqueue(p, *x);
}

// The caller cancelled a request still on its connection: its response can no longer be told
// from the next one's, so the connection goes too, and what else was on it is sent again.
void cancel(exchange& x) {
  if (!x.owner || x.current != exchange::state::queued) return;
  x.cancelled = true;
  fail(x.owner->shared_from_this(), *x.on, "read", asio::error::operation_aborted, false);
}

namespace {

// Ends a connection's writer or reader coroutine, however it ends: clears its flag, and lets the
// connection take requests again once it is the last of the two to stop after a failure.
struct stopped {
  pool& p;
  connection& c;
  bool connection::*running;
  ~stopped() {
    c.*running = false;
    recycle(p, c);
  }
};

asio::awaitable<void> write_requests(std::shared_ptr<pool> p, connection& c) {
  auto generation = c.generation;
  stopped guard{*p, c, &connection::writing};

  if (!c.socket.is_open()) {
    auto ec = co_await connect(*p, c);
    if (c.generation != generation) co_return;
    if (ec) co_return fail(p, c, p->connect_step, ec, false);
    c.parser.reset();
    c.deadline = clock::time_point::max();
  }
  while (!c.request.empty() && c.sent == 0) {
    for (std::size_t before = 0; c.queue.size() != before && c.queue.size() < p->depth;) {
      before = c.queue.size();
      co_await asio::post(p->executor, asio::use_awaitable);
      if (c.generation != generation) co_return;
    }
    std::swap(c.request, c.sending);
    c.request.clear();
    c.sent = c.queue.size();
    if (c.deadline == clock::time_point::max()) c.deadline = clock::now() + p->options.timeout;
    if (!c.reading) {
      c.reading = true;
      asio::co_spawn(p->executor, read_responses(p, c), rethrow);
    }
    auto [ec, n] = co_await asio::async_write(c.socket, asio::buffer(c.sending), use_tuple);
    if (c.generation != generation) co_return;
    if (ec) co_return fail(p, c, "write", ec, c.timed_out);
  }
}

asio::awaitable<void> read_responses(std::shared_ptr<pool> p, connection& c) {
  auto generation = c.generation;
  stopped guard{*p, c, &connection::reading};

  while (c.sent > 0) {
    std::error_code ec;
    while (c.sent > 0 && c.parse(ec)) {
      // Bytes beyond the last response asked for mean its framing is off, as in get_one().
      if (c.sent == 1 && !c.in.empty()) {
        ec = http::error::extra_bytes;
        break;
      }
      bool keep_alive = c.parser.keep_alive();
      if (!keep_alive) c.retired = true; // takes no more requests
      ++c.exchanges;
      auto& x = leave_front(*p, c);
      answer(*p, x, response{.status = c.parser.status(), .body = std::move(c.parser.body())},
             /*on_io=*/true);
      if (c.generation != generation) co_return; // its handler failed the connection
      c.parser.reset();
      c.received = !c.in.empty();
      c.deadline = c.sent > 0 ? clock::now() + p->options.timeout : clock::time_point::max();
      if (!keep_alive) { // what is left was never answered: sent again, without pipelining
        c.received = false;
        co_return fail(p, c, "read", asio::error::eof, true);
      }
    }
    if (ec) co_return fail(p, c, "read", ec, false);
    if (c.sent == 0) { // the batch is answered: the requests that joined since go next
      if (!c.queue.empty() && !c.writing) {
        c.writing = true;
        asio::co_spawn(p->executor, write_requests(p, c), rethrow);
      }
      break;
    }

    auto space = c.in.space();
    if (space.size() == 0) co_return fail(p, c, "read", http::error::headers_too_large, false);
    auto [read_error, n] = co_await c.socket.async_read_some(space, use_tuple);
    if (c.generation != generation) co_return;
    c.in.commit(n);
    c.received |= n > 0;
    if (read_error == asio::error::eof) {
      c.parser.parse_eof(ec); // completes a body that ends with the connection
      if (!ec) continue;
    } else {
      ec = read_error;
    }
    if (ec) co_return fail(p, c, "read", ec, c.timed_out);
  }
}

} // namespace

} // namespace common::detail
