#include "common/session.hpp"

#include "common/asio_compat.hpp"
#include "common/errors.hpp"
#include "common/http.hpp"
#include "common/read_buffer.hpp"

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <string>
#include <system_error>
#include <vector>

namespace common {

using asio::ip::tcp;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = compat::as_tuple(asio::use_awaitable);
// A connection's first read buffer: the server's whole "Hello, World!" response (93 bytes) fits.
constexpr std::size_t initial_buffer_bytes = 128;

// Errors that mean the server closed a reused keep-alive connection before reading the request.
bool is_stale_connection(std::error_code ec) {
  return ec == asio::error::eof || ec == http::error::truncated ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

} // namespace

/// The requests on a pipelined connection, in the order they are written: a list threaded through
/// the requests themselves, so that a connection allocates nothing for it (a std::deque would
/// allocate some 600 bytes per connection even with pipelining off).
struct session::exchange_queue {
  bool empty() const noexcept { return count == 0; }
  std::size_t size() const noexcept { return count; }
  exchange* front() const noexcept { return head; }
  void push_back(exchange* x) noexcept;
  void pop_front() noexcept;

  exchange *head = nullptr, *tail = nullptr;
  std::size_t count = 0;
};

/// One TCP connection with its read buffer, its parser and its deadline.
struct session::connection {
  connection(const asio::any_io_executor& executor, http::response_parser::limits limits)
      : socket(executor), parser(limits), in(initial_buffer_bytes, limits.max_head_bytes) {}
  ~connection() { // the session is gone, and its executor with it: nothing is left to answer them
    while (!queue.empty()) {
      auto* x = queue.front();
      queue.pop_front();
      x->discard();
    }
  }

  void arm(std::chrono::milliseconds timeout) noexcept {
    deadline = clock::now() + timeout;
    timed_out = false;
    received = false;
  }

  void format_request(std::string_view target, std::string_view authority) {
    request.assign("GET ").append(target).append(" HTTP/1.1\r\nHost: ");
    request.append(authority).append("\r\n\r\n");
  }

  void append_request(std::string_view target, std::string_view authority) {
    request.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ");
    request.append(authority).append("\r\n\r\n");
  }

  // Parses what has arrived; true once the response is whole (or `ec` says it is malformed).
  bool parse(std::error_code& ec) {
    in.consume(parser.parse(in.data(), ec));
    return parser.done();
  }

  response take_response() {
    deadline = clock::time_point::max();
    ++exchanges;
    response r{.status = parser.status(), .body = std::move(parser.body())};
    if (!parser.keep_alive()) close();
    return r;
  }

  void close() noexcept {
    std::error_code ignored;
    socket.close(ignored);
    in.clear();
    exchanges = 0;
  }

  tcp::socket socket;
  http::response_parser parser;
  read_buffer in;
  std::string request; // the request's bytes, reused
  clock::time_point deadline = clock::time_point::max();
  bool timed_out = false; // set by the watchdog when it cancels
  bool busy = false;
  bool received = false;       // any byte of the current response arrived
  std::uint64_t exchanges = 0; // responses read on this TCP connection

  // Pipelining only (session_options::pipeline above 1). `request` collects the next write.
  exchange_queue queue;                  // its requests, in the order they are written
  std::size_t sent = 0;                  // how many of the queue's first requests were written
  std::string sending;                   // the bytes being written now
  bool writing = false, reading = false; // its writer, its reader coroutine runs
  bool retired = false;                  // failed: takes no request until both have stopped
  bool listed = false;                   // in pool::room
  std::uint64_t generation = 0;          // counts failures: a coroutine of an earlier one stops
};

void session::exchange_queue::push_back(exchange* x) noexcept {
  x->next = nullptr;
  (head ? tail->next : head) = x;
  tail = x;
  ++count;
}

void session::exchange_queue::pop_front() noexcept {
  head = head->next;
  if (!head) tail = nullptr;
  --count;
}

/// Everything the watchdog needs, shared with it so that it never outlives what it watches.
struct session::pool : std::enable_shared_from_this<pool> {
  pool(const asio::any_io_executor& executor, session_options options)
      : executor(executor), options(options), watchdog(executor) {}

  asio::any_io_executor executor;
  session_options options;
  std::string authority;
  std::string connect_step;
  std::vector<tcp::endpoint> endpoints;
  std::vector<std::unique_ptr<connection>> connections;
  std::vector<connection*> idle;
  std::size_t busy = 0;
  std::size_t opened = 0;
  asio::steady_timer watchdog;
  bool watching = false;

  // An idle connection, or a new one when none is idle: the pool grows to the peak in flight.
  connection& checkout() {
    connection* c = nullptr;
    if (!idle.empty()) {
      c = idle.back();
      idle.pop_back();
    } else {
      connections.push_back(std::make_unique<connection>(
          executor, http::response_parser::limits{.max_body_bytes = options.max_body_bytes}));
      c = connections.back().get();
    }
    c->busy = true;
    ++busy;
    return *c;
  }

  void checkin(connection& c) noexcept {
    c.busy = false;
    c.deadline = clock::time_point::max();
    idle.push_back(&c);
    if (--busy == 0) watchdog.cancel(); // nothing left to watch: a pending tick would delay the end
  }

  // Pipelining: `room` is a stack of the connections that take another request, the most
  // recently freed on top, so that one connection fills to `depth` before another is opened.
  std::vector<connection*> room;
  std::size_t depth = options.pipeline; // 1 once the server has shown it does not pipeline

  connection& pick() {
    while (!room.empty()) {
      auto* c = room.back();
      if (!c->retired && c->queue.size() < depth) return *c;
      c->listed = false;
      room.pop_back();
    }
    connections.push_back(std::make_unique<connection>(
        executor, http::response_parser::limits{.max_body_bytes = options.max_body_bytes}));
    auto& c = *connections.back();
    c.listed = true;
    room.push_back(&c);
    return c;
  }

  void relist(connection& c) {
    if (c.listed || c.retired || c.queue.size() >= depth) return;
    c.listed = true;
    room.push_back(&c);
  }

  void join(connection& c, exchange& x) {
    x.current = exchange::state::queued;
    if (c.queue.empty()) {
      c.busy = true;
      ++busy;
    }
    c.queue.push_back(&x);
    x.on = &c;
    c.append_request(x.target, authority);
    if (c.queue.size() >= depth && !room.empty() && room.back() == &c) {
      c.listed = false;
      room.pop_back();
    }
  }

  exchange& leave_front(connection& c) {
    auto& x = *c.queue.front();
    c.queue.pop_front();
    if (c.sent > 0) --c.sent;
    if (c.queue.empty()) {
      c.busy = false;
      c.deadline = clock::time_point::max();
      if (--busy == 0) watchdog.cancel();
    }
    relist(c);
    return x;
  }

  // Ends a pipelined connection. Each request on it that saw no byte of its response is sent
  // again elsewhere if the connection answered some request before (so the retries end: each
  // one needs a connection that answered a request), and fails otherwise. `fall_back` (a timeout, a
  // `Connection: close`) turns pipelining off when requests were left unanswered behind answered
  // ones.
  // It returns the requests to send again: session::fail() sends them.
  [[nodiscard]] exchange_queue fail(connection& c, std::string_view step, std::error_code ec,
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
      auto& x = leave_front(c);
      bool retry = progress && !(front && started) && !x.cancelled;
      x.current = retry ? exchange::state::retry : exchange::state::answered;
      (retry ? again : failed).push_back(&x);
    }
    c.sent = 0;
    if (fall_back && progress && unanswered) depth = 1;
    recycle(c);
    while (!failed.empty()) {
      auto& x = *failed.front();
      failed.pop_front();
      if (x.cancelled)
        answer(x, response{.step = "read", .error = asio::error::operation_aborted});
      else
        answer(x, response{.step = step, .error = ec});
    }
    return again;
  }

  // Hands a request its response, or its failure: once, and then it is gone. `on_io`: the
  // caller runs on the session's executor (its reader does).
  void answer(exchange& x, response r, bool on_io = false) {
    x.current = exchange::state::answered;
    x.owner = nullptr;
    x.complete(executor, std::move(r), on_io);
  }

  // A failed connection takes requests again once its writer and reader have both stopped.
  void recycle(connection& c) {
    if (!c.retired || c.writing || c.reading) return;
    c.retired = false;
    relist(c);
  }
};

namespace {

// Rather than one timer per request, one watchdog looks over the busy connections a few times
// per timeout and cancels the operations of those past their deadline. A request then costs one
// clock read for its timeout instead of a timer's setup and cancellation.
template <class Pool> void watch(const std::shared_ptr<Pool>& p) {
  if (p->watching) return;
  p->watching = true;
  auto tick = std::clamp<std::chrono::milliseconds>(p->options.timeout / 4, 1ms, 250ms);
  p->watchdog.expires_after(tick);
  p->watchdog.async_wait([weak = std::weak_ptr<Pool>(p)](std::error_code ec) {
    auto p = weak.lock();
    if (!p) return;
    p->watching = false;
    if (ec) { // cancelled when the pool fell idle; a request may have started since
      if (p->busy > 0) watch(p);
      return;
    }
    auto now = clock::now();
    for (auto& c : p->connections)
      if (c->busy && c->deadline <= now) {
        c->timed_out = true;
        c->deadline = clock::time_point::max();
        std::error_code ignored;
        c->socket.cancel(ignored);
      }
    if (p->busy > 0) watch(p);
  });
}

} // namespace

session::session(asio::any_io_executor executor, const url_template& url, session_options options)
    : pool_(std::make_shared<pool>(executor, options)) {
  pool_->authority = url.authority();
  pool_->connect_step = "connect to " + pool_->authority;
  tcp::resolver resolver(executor);
  std::error_code ec;
  auto results =
      resolver.resolve(url.host(), std::to_string(url.port()), tcp::resolver::numeric_service, ec);
  if (ec) throw std::system_error(ec, "cannot resolve " + url.host());
  for (const auto& entry : results)
    pool_->endpoints.push_back(entry.endpoint());
}

session::~session() {
  for (auto& c : pool_->connections)
    c->close();
  pool_->watchdog.cancel();
}

std::size_t session::connections_opened() const noexcept {
  return pool_->opened;
}

asio::awaitable<response> session::get(std::string url) {
  if (pipelined()) return async_get(std::move(url), asio::use_awaitable);
  return get_one(std::move(url));
}

asio::awaitable<response> session::get_one(std::string url) {
  std::string_view authority, target;
  auto p = pool_; // keeps the pool alive for as long as this request runs
  if (!split_url(url, authority, target) || authority != p->authority)
    co_return response{.step = "url", .error = std::make_error_code(std::errc::invalid_argument)};

  connection& c = p->checkout();
  struct give_back {
    pool& p;
    connection& c;
    ~give_back() { p.checkin(c); }
  } guard{*p, c};
  watch(p);

  for (bool retried = false;; retried = true) {
    if (!c.socket.is_open())
      if (auto ec = co_await connect(*p, c))
        co_return response{.step = p->connect_step, .error = ec};
    bool reused = c.exchanges > 0;

    // One exchange: the request in one write, then reads until the response is whole.
    c.format_request(target, p->authority);
    c.arm(p->options.timeout);
    std::string_view step = "write";
    auto [ec, written] = co_await asio::async_write(c.socket, asio::buffer(c.request), use_tuple);
    if (!ec) {
      step = "read";
      c.parser.reset();
      while (!c.parse(ec) && !ec) {
        auto space = c.in.space();
        if (space.size() == 0) {
          ec = http::error::headers_too_large;
          break;
        }
        auto [read_error, n] = co_await c.socket.async_read_some(space, use_tuple);
        c.in.commit(n);
        c.received |= n > 0;
        if (read_error == asio::error::eof)
          c.parser.parse_eof(ec);
        else
          ec = read_error;
        if (read_error) break;
      }
    }
    // Bytes beyond the response mean its framing is off (a Content-Length too short cuts the
    // body short): neither the response nor the connection can be trusted.
    if (!ec && !c.in.empty()) ec = http::error::extra_bytes;
    if (!ec) co_return c.take_response();

    if (ec == asio::error::operation_aborted && c.timed_out)
      ec = std::make_error_code(std::errc::timed_out);
    c.close();
    // A reused connection the server had closed: the request never reached it, so resend once.
    if (reused && !retried && !c.received && is_stale_connection(ec)) continue;
    co_return response{.step = step, .error = ec};
  }
}

asio::awaitable<std::error_code> session::connect(pool& p, connection& c) {
  c.close();
  c.arm(p.options.timeout);
  auto [ec, endpoint] = co_await asio::async_connect(c.socket, p.endpoints, use_tuple);
  if (ec == asio::error::operation_aborted && c.timed_out)
    ec = std::make_error_code(std::errc::timed_out);
  if (ec) {
    c.close();
    co_return ec;
  }
  std::error_code ignored;
  c.socket.set_option(tcp::no_delay(true), ignored);
  ++p.opened;
  // Next time, try first the address that answered: "localhost" may name ::1 before 127.0.0.1.
  if (endpoint != p.endpoints.front())
    std::iter_swap(p.endpoints.begin(),
                   std::find(p.endpoints.begin(), p.endpoints.end(), endpoint));
  co_return std::error_code{};
}

bool session::pipelined() const noexcept {
  return pool_->options.pipeline > 1;
}

const asio::any_io_executor& session::executor() const noexcept {
  return pool_->executor;
}

namespace {

// The answer to a request whose URL is not this session's, posted: a handler is never called
// inside the call that started its operation. Destroyed unrun, the executor is gone.
template <class Pool, class Exchange> struct posted_refusal {
  std::shared_ptr<Pool> p;
  Exchange* x;
  posted_refusal(std::shared_ptr<Pool> p, Exchange* x) noexcept : p(std::move(p)), x(x) {}
  posted_refusal(posted_refusal&& other) noexcept
      : p(std::move(other.p)), x(std::exchange(other.x, nullptr)) {}
  ~posted_refusal() {
    if (x) x->discard();
  }
  void operator()() {
    p->answer(*std::exchange(x, nullptr),
              response{.step = "url", .error = std::make_error_code(std::errc::invalid_argument)});
  }
};

} // namespace

// HTTP/1.1 pipelining. A request is an exchange, allocated with its handler (for get(), the one
// that resumes the request's coroutine): it joins a connection that has room (fewer than `depth`
// requests) and appends its bytes to what the connection will write next. Each connection has at
// most one writer and one reader coroutine: the writer sends a batch, everything that has
// collected, in one write; the reader parses the responses in order and hands each to the exchange
// at the front of the queue, whose handler runs there and then when it shares the session's
// executor. A connection writes its next batch once the last one is all answered, as wrk's
// pipelining does: writing each refill as it comes would cost a write per request again. And the
// writer waits for the queue to stop growing before it writes, because the refills of the freed
// places may come a few event-loop turns apart.
void session::send(exchange* x) {
  std::string_view authority;
  if (!split_url(x->url, authority, x->target) || authority != pool_->authority)
    return asio::post(pool_->executor, posted_refusal(pool_, x));
  send(pool_, *x);
}

void session::send(const std::shared_ptr<pool>& p, exchange& x) {
  auto& c = p->pick();
  x.owner = p.get();
  p->join(c, x);
  if (!c.writing && c.sent == 0) { // else it goes with the next batch
    c.writing = true;
    asio::co_spawn(p->executor, write_requests(p, c), rethrow);
  }
  watch(p);
}

void session::fail(const std::shared_ptr<pool>& p, connection& c, std::string_view step,
                   std::error_code ec, bool fall_back) {
  auto again = p->fail(c, step, ec, fall_back);
  while (!again.empty()) {
    auto& x = *again.front();
    again.pop_front();
    send(p, x);
  }
}

// The caller cancelled a request still on its connection: its response can no longer be told
// from the next one's, so the connection goes too, and what else was on it is sent again.
void session::cancel(exchange& x) {
  if (!x.owner || x.current != exchange::state::queued) return;
  x.cancelled = true;
  fail(x.owner->shared_from_this(), *x.on, "read", asio::error::operation_aborted, false);
}

asio::awaitable<void> session::write_requests(std::shared_ptr<pool> p, connection& c) {
  auto generation = c.generation;
  struct stopped {
    pool& p;
    connection& c;
    ~stopped() {
      c.writing = false;
      p.recycle(c);
    }
  } guard{*p, c};

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

asio::awaitable<void> session::read_responses(std::shared_ptr<pool> p, connection& c) {
  auto generation = c.generation;
  struct stopped {
    pool& p;
    connection& c;
    ~stopped() {
      c.reading = false;
      p.recycle(c);
    }
  } guard{*p, c};

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
      auto& x = p->leave_front(c);
      p->answer(x, response{.status = c.parser.status(), .body = std::move(c.parser.body())},
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

} // namespace common
