// server: the article's delay server, from its "Setup: Server" section. Every `GET /{name}` is
// answered "Hello, World!" after randint(0, 3) seconds, one coroutine per connection. serve(), at
// the end, is the article's handler plus what a server facing real clients must add, each named
// there; the connection above it turns bytes into whole requests, so serve() only waits for them.
// The limits (an idle timeout, a head and a body limit, a cap on connections) are explained where
// they are enforced.
#include "server/server.hpp"

#include "common/asio_compat.hpp"
#include "common/http.hpp"
#include "common/read_buffer.hpp"

#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

namespace server {

using asio::ip::tcp;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace http = common::http;

namespace {

constexpr auto use_tuple = compat::as_tuple(asio::use_awaitable);
constexpr std::size_t initial_buffer_bytes = 1024;
// A GET has no business sending a body. One is skipped, not stored, so this limit bounds the time
// spent reading for nothing, not memory: a larger body is answered 413 and the connection closed.
constexpr std::uint64_t max_body_bytes = 1u << 20;

// The article's response, prebuilt so that answering costs one write and no formatting.
constexpr std::string_view hello_http11 = "HTTP/1.1 200 OK\r\n"
                                          "Content-Type: text/plain; charset=utf-8\r\n"
                                          "Content-Length: 13\r\n"
                                          "\r\n"
                                          "Hello, World!";
constexpr std::string_view hello_http10_keep_alive = "HTTP/1.1 200 OK\r\n"
                                                     "Content-Type: text/plain; charset=utf-8\r\n"
                                                     "Content-Length: 13\r\n"
                                                     "Connection: keep-alive\r\n"
                                                     "\r\n"
                                                     "Hello, World!";
constexpr std::string_view hello_close = "HTTP/1.1 200 OK\r\n"
                                         "Content-Type: text/plain; charset=utf-8\r\n"
                                         "Content-Length: 13\r\n"
                                         "Connection: close\r\n"
                                         "\r\n"
                                         "Hello, World!";
constexpr std::string_view busy = "HTTP/1.1 503 Service Unavailable\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "Content-Length: 12\r\n"
                                  "Connection: close\r\n"
                                  "\r\n"
                                  "Server busy\n";

// Answers to pipelined requests go out together: when a connection has several requests in hand
// that need no delay, it answers them in one write (see connection::queue). They are all
// hello_http11, so the write's bytes are a prefix of this: no copy, and nothing per connection.
constexpr std::size_t max_queued = 64;
constexpr std::size_t hello_size = hello_http11.size();
const std::string many_hellos = [] {
  std::string s;
  for (std::size_t i = 0; i < max_queued; ++i)
    s += hello_http11;
  return s;
}();

std::string_view hello(bool keep_alive, int minor_version) {
  if (!keep_alive) return hello_close;
  return minor_version == 0 ? hello_http10_keep_alive : hello_http11;
}

// The status a malformed request gets; the connection closes after it.
int status_for(std::error_code ec) {
  if (ec == http::error::headers_too_large) return 431;
  if (ec == http::error::unsupported_version) return 505;
  if (ec == http::error::unsupported_transfer_encoding) return 501;
  return 400;
}

const char* reason_for(int status) {
  switch (status) {
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 413:
    return "Content Too Large";
  case 431:
    return "Request Header Fields Too Large";
  case 501:
    return "Not Implemented";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Bad Request";
  }
}

// The `{name}` of an origin-form or absolute-form target `/{name}[?query]`; empty if none.
std::string_view name_of(std::string_view target) {
  if (target.substr(0, 7) == "http://") {
    target.remove_prefix(7);
    target.remove_prefix(std::min(target.find('/'), target.size()));
  }
  target = target.substr(0, target.find('?'));
  if (target.size() < 2 || target.front() != '/') return {};
  auto name = target.substr(1);
  return name.find('/') == std::string_view::npos ? name : std::string_view{};
}

bool is_out_of_descriptors(std::error_code ec) {
  return ec == asio::error::no_descriptors || ec == std::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

// Ends a request's time in flight when the request is destroyed: answered, or given up.
struct leave_flight {
  void operator()(stats* s) const noexcept { --s->in_flight; }
};

// A request read whole, with what serve() needs to answer it. Nothing in it points into the read
// buffer, which the next read may overwrite: its name is a copy, in a buffer the connection reuses.
struct request {
  int status = 200;       // 200 for `GET /{name}`; otherwise the error status it gets
  bool keep_alive = true; // whether the connection stays open after the answer
  int minor_version = 1;  // 0 for HTTP/1.0, which needs keep-alive said in the answer
  std::string_view name;  // the `{name}`
  std::unique_ptr<stats, leave_flight> in_flight; // counts it in stats::in_flight meanwhile
};

} // namespace

/// One client connection: its socket, delay timer, read buffer and deadline. It lives in the
/// frame of the coroutine that serves it and links itself into the server's list meanwhile.
struct delay_server::connection {
  // The head limit: a head is kept whole in the read buffer until it is parsed, so the limit is
  // what bounds the buffer, and so a connection's memory, whatever the client sends (431 past it).
  connection(delay_server& server, tcp::socket s)
      : server(server), socket(std::move(s)), timer(socket.get_executor()),
        parser(server.options_.max_head_bytes),
        in(initial_buffer_bytes, server.options_.max_head_bytes), next(server.connections_) {
    if (next) next->prev = this;
    server.connections_ = this;
    auto& st = server.stats_;
    ++st.connections;
    st.peak_connections = std::max(st.peak_connections, ++st.open_connections);
  }

  ~connection() {
    (prev ? prev->next : server.connections_) = next;
    if (next) next->prev = prev;
    --server.stats_.open_connections;
  }

  // The idle timeout: the client has until it to send the rest of a request once its first bytes
  // are awaited, or to take an answer. Without it, a client that sends half a request and stalls,
  // or never reads, would keep its connection (a file descriptor and a buffer) forever. The
  // watchdog's clock, read once a tick, is precise enough for that and costs nothing per request.
  void arm() noexcept { deadline = server.now_ + server.options_.idle_timeout; }
  void disarm() noexcept { deadline = clock::time_point::max(); }

  // Why read_more() and write() return the socket's operation for serve() to await, rather than
  // being coroutines of their own, and why take_request() is plain code rather than a coroutine
  // that reads until a request is whole (as mini-redis's read_frame() does): Asio keeps two freed
  // coroutine frames per thread for reuse. When serve() awaits every wait of a request (read,
  // delay, write) directly, each wake frees one frame and the next wait takes it back. A helper
  // coroutine around some waits and not others makes that count swing, and then the server
  // allocates and frees frames on every request.

  // Reads more bytes into the buffer; pass the result to received(). The idle timeout starts at
  // the first read for a request, so a request trickling in must still arrive whole within it.
  auto read_more() {
    if (!reading) arm();
    reading = true;
    return socket.async_read_some(in.space(), use_tuple);
  }

  // Counts the bytes a read_more() brought; false when the connection is done (closed, failed, or
  // a full buffer, which the head limit makes an error first).
  bool received(std::tuple<std::error_code, std::size_t> result) {
    auto [ec, n] = result;
    in.commit(n);
    return !ec && n > 0;
  }

  // Keeps an answer for the next write when it is the common one and there is room; false when
  // it must be written itself. The queue goes out before the connection waits for anything (more
  // bytes, a delay) or writes another answer, so no answer waits on a later request.
  bool queue(std::string_view answer) noexcept {
    // The answers are prebuilt: which one it is shows in where it points, without a compare.
    if (answer.data() != hello_http11.data() || queued == max_queued) return false;
    ++queued;
    return true;
  }

  // Writes the queued answers, then bytes, in one write, giving the client until the idle timeout
  // to take them.
  auto write(std::string_view bytes = {}) {
    arm();
    auto answers = std::string_view(many_hellos).substr(0, std::exchange(queued, 0) * hello_size);
    ++server.stats_.writes;
    if (answers.empty()) return asio::async_write(socket, asio::buffer(bytes), use_tuple);
    if (bytes.empty()) return asio::async_write(socket, asio::buffer(answers), use_tuple);
    auto both = std::array{asio::buffer(answers), asio::buffer(bytes)};
    return asio::async_write(socket, both, use_tuple);
  }

  // Whether a write() of the queued answers went through.
  bool flushed(std::tuple<std::error_code, std::size_t> result) { return !std::get<0>(result); }

  // Writes an error response; false when the connection must close after it.
  asio::awaitable<bool> write_error(int status, bool keep_alive) {
    auto body = std::string(reason_for(status)) + "\n";
    scratch = "HTTP/1.1 " + std::to_string(status) + " " + reason_for(status) +
              "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
              (status == 405 ? "\r\nAllow: GET" : "") +
              (keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n") + body;
    auto [ec, n] = co_await write(scratch);
    co_return !ec && keep_alive;
  }

  // The next whole request among the bytes in hand, if they hold one: parses its head, then drops
  // its body (a GET has no use for one) as it arrives. Nothing while more bytes are needed. A
  // request that is not a well-formed `GET /{name}` comes with the error status it gets.
  std::optional<request> take_request() {
    if (!pending) {
      http::request head;
      std::error_code ec;
      auto size = parser.parse(in.data(), head, ec);
      if (ec) return request{.status = status_for(ec), .keep_alive = false};
      if (size == 0) return std::nullopt;
      in.consume(size);
      auto& st = server.stats_;
      ++st.requests;
      st.peak_in_flight = std::max(st.peak_in_flight, ++st.in_flight);
      auto& r = pending.emplace(request{.keep_alive = head.keep_alive,
                                        .minor_version = head.minor_version,
                                        .in_flight = std::unique_ptr<stats, leave_flight>(&st)});
      if (head.content_length > max_body_bytes) {
        r.status = 413;
        r.keep_alive = false; // its body is not read, so nothing after it can be
        return std::exchange(pending, std::nullopt);
      }
      // Decided and copied now, while the head's bytes are there: the body may overwrite them.
      r.name = name.assign(name_of(head.target));
      r.status = head.method != "GET" ? 405 : r.name.empty() ? 404 : 200;
      body_left = head.content_length;
    }
    auto n = std::min<std::uint64_t>(body_left, in.data().size());
    in.consume(static_cast<std::size_t>(n));
    body_left -= n;
    if (body_left > 0) return std::nullopt;
    reading = false;
    disarm(); // the whole request is in
    return std::exchange(pending, std::nullopt);
  }

  // Ends the connection without destroying a response the client has not read yet, which closing
  // with unread bytes in the socket would do (the kernel resets the connection): shuts down the
  // sending side, then reads until the client closes, for a moment.
  asio::awaitable<void> close() {
    pending.reset(); // a request broken off is no longer in flight
    std::error_code ec;
    socket.shutdown(tcp::socket::shutdown_send, ec);
    if (server.stopping_ || ec) co_return;
    char sink[256];
    deadline = server.now_ + std::min<std::chrono::milliseconds>(server.options_.idle_timeout, 1s);
    for (;;) {
      auto [error, n] = co_await socket.async_read_some(asio::buffer(sink), use_tuple);
      if (error) break;
    }
  }

  delay_server& server;
  tcp::socket socket;
  asio::steady_timer timer;
  http::request_parser parser;
  common::read_buffer in;
  std::optional<request> pending; // a request whose body is still arriving
  std::uint64_t body_left = 0;    // the bytes of its body still to come
  std::size_t queued = 0;         // answers kept for the next write (all hello_http11)
  bool reading = false;           // a read for the next request has started its deadline
  std::string name;               // the last request's name
  std::string scratch;            // the last error response
  clock::time_point deadline = clock::time_point::max();
  connection* prev = nullptr;
  connection* next;
};

delays::delays(const options& opts)
    : random_(opts.seed ? *opts.seed : std::random_device{}()), distribution_(0, opts.max_delay),
      unit_(opts.delay_unit) {}

delay_server::delay_server(asio::io_context& io, options opts)
    : io_(io), options_(std::move(opts)), acceptor_(io), delays_(options_), watchdog_(io) {
  tcp::endpoint endpoint(asio::ip::make_address(options_.host), options_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

delay_server::~delay_server() = default;

void delay_server::start() {
  asio::co_spawn(io_, accept(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  watch();
}

void delay_server::stop() {
  stopping_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  watchdog_.cancel();
  for (auto* c = connections_; c; c = c->next) {
    c->socket.close(ignored);
    c->timer.cancel();
  }
}

// Closes connections that have been idle, or slow to send or to read, past the idle timeout.
void delay_server::watch() {
  now_ = clock::now();
  auto tick = std::clamp<std::chrono::milliseconds>(options_.idle_timeout / 4, 10ms, 1000ms);
  watchdog_.expires_after(tick);
  watchdog_.async_wait([this](std::error_code ec) {
    if (ec || stopping_) return;
    auto now = clock::now();
    std::error_code ignored;
    for (auto* c = connections_; c; c = c->next)
      if (c->deadline <= now) c->socket.close(ignored);
    watch();
  });
}

asio::awaitable<void> delay_server::accept() {
  asio::steady_timer pause(io_);
  bool warned = false;
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (stopping_) break;
    if (is_out_of_descriptors(ec)) {
      if (!warned)
        std::fprintf(stderr, "server: accept: %s with %zu connections open; raise `ulimit -n`\n",
                     ec.message().c_str(), stats_.open_connections);
      warned = true;
      pause.expires_after(50ms);
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (ec) continue; // the client gave up before we accepted it
    // The connection cap: each connection holds a file descriptor and some memory until it ends.
    // Past the cap, a new client gets a quick 503 rather than the server running out of either.
    if (stats_.open_connections >= options_.max_connections) {
      ++stats_.rejected;
      socket.non_blocking(true, ec);
      socket.send(asio::buffer(busy), 0, ec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(io_, serve(std::move(socket)), [](std::exception_ptr e) {
      try {
        if (e) std::rethrow_exception(e);
      } catch (const std::exception& x) {
        std::fprintf(stderr, "server: connection: %s\n", x.what());
      }
    });
  }
}

// The article's handler is the delay and the response. Around them, what a real server adds: it
// serves request after request on a keep-alive connection, takes each whole and within limits
// (take_request), answers what is not `GET /{name}` with an error, counts what it does (stats),
// ends the delay at stop(), and closes without losing the last response (close).
asio::awaitable<void> delay_server::serve(tcp::socket socket) {
  connection c(*this, std::move(socket));
  while (!stopping_) {               // keep-alive: request after request
    auto request = c.take_request(); // a whole request, within the limits, from the bytes in hand
    if (!request) {                  // not yet: more bytes, within the idle timeout
      if (c.queued > 0 && !c.flushed(co_await c.write())) break; // but first, answers in hand
      if (!c.received(co_await c.read_more())) break;
      continue;
    }
    if (request->status != 200) { // an error, for a request that is not `GET /{name}`
      if (!co_await c.write_error(request->status, request->keep_alive)) break;
      continue;
    }
    if (on_request) on_request(request->name);
    ++stats_.greeted;
    if (auto delay = delays_.next(); delay > 0ms) { // await asyncio.sleep(random.randint(0, 3))
      stats_.total_delay += delay;
      if (c.queued > 0 && !c.flushed(co_await c.write())) break;
      c.timer.expires_after(delay);
      auto [cancelled] = co_await c.timer.async_wait(use_tuple);
      if (cancelled) break; // stop() ends the delay
    }
    // return web.Response(text="Hello, World!"), as the connection's last answer when stopping
    auto keep_alive = request->keep_alive && !stopping_;
    auto answer = hello(keep_alive, request->minor_version);
    if (c.queue(answer)) continue; // it goes with the next write
    auto [error, n] = co_await c.write(answer);
    if (error || !keep_alive) break;
  }
  co_await c.close();
}

} // namespace server
