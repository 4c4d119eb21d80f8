// One client connection of the delay server: its limits (an idle timeout, a head and a body
// limit) are explained where they are enforced, and so is how it sends the answers to pipelined
// requests together.
#include "server/connection.hpp"

#include "server/replies.hpp"

#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <utility>

namespace server {

using asio::ip::tcp;
using namespace std::chrono_literals;
namespace http = common::http;

namespace {

constexpr std::size_t initial_buffer_bytes = 1024;
// A GET has no business sending a body. One is skipped, not stored, so this limit bounds the time
// spent reading for nothing, not memory: a larger body is answered 413 and the connection closed.
constexpr std::uint64_t max_body_bytes = 1u << 20;

// Answers to pipelined requests go out together: while a connection has requests in hand that
// need no delay, it keeps their answers and sends them in one write, before it waits for anything
// (more bytes, a delay). They are all hello_http11, so the write's bytes are a prefix of this: no
// copy, and nothing per connection but a count.
constexpr std::size_t max_queued = 64;
constexpr std::size_t hello_size = replies::hello_http11.size();
const std::string many_hellos = [] {
  std::string s;
  for (std::size_t i = 0; i < max_queued; ++i)
    s += replies::hello_http11;
  return s;
}();

// The status a malformed request gets; the connection closes after it.
int status_for(std::error_code ec) {
  if (ec == http::error::headers_too_large) return 431;
  if (ec == http::error::unsupported_version) return 505;
  if (ec == http::error::unsupported_transfer_encoding) return 501;
  return 400;
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

} // namespace

// The head limit: a head is kept whole in the read buffer until it is parsed, so the limit is what
// bounds the buffer, and so a connection's memory, whatever the client sends (431 past it).
connection::connection(delay_server& server, tcp::socket s)
    : socket(std::move(s)), timer(socket.get_executor()), next(server.connections_), server(server),
      parser(server.options_.max_head_bytes),
      in(initial_buffer_bytes, server.options_.max_head_bytes) {
  if (next) next->prev = this;
  server.connections_ = this;
  auto& st = server.stats_;
  ++st.connections;
  st.peak_connections = std::max(st.peak_connections, ++st.open_connections);
}

connection::~connection() {
  (prev ? prev->next : server.connections_) = next;
  if (next) next->prev = prev;
  --server.stats_.open_connections;
}

// The idle timeout: the client has until it to send the rest of a request once its first bytes are
// awaited, or to take an answer. Without it, a client that sends half a request and stalls, or
// never reads, would keep its connection (a file descriptor and a buffer) forever. The watchdog's
// clock, read once a tick, is precise enough for that and costs nothing per request.
void connection::arm() noexcept {
  deadline = server.now_ + server.options_.idle_timeout;
}
void connection::disarm() noexcept {
  deadline = std::chrono::steady_clock::time_point::max();
}

// Why transfer() returns the socket's operation for serve() to await, rather than being a
// coroutine of its own, and why take_request() is plain code rather than a coroutine that reads
// until a request is whole (as mini-redis's read_frame() does): Asio keeps two freed coroutine
// frames per thread for reuse. When serve() awaits every wait of a request (read, delay, write)
// directly, each wake frees one frame and the next wait takes it back. A helper coroutine around
// some waits and not others makes that count swing, and then the server allocates and frees
// frames on every request.

// The idle timeout starts at the first read for a request, so a request trickling in must still
// arrive whole within it.
asio::awaitable<connection::transfer_result> connection::transfer() {
  writing = queued > 0 || !tail.empty();
  if (writing) return write();
  if (!reading) arm();
  reading = true;
  return socket.async_read_some(in.space(), use_tuple);
}

bool connection::transferred(transfer_result result) {
  auto [ec, n] = result;
  if (std::exchange(writing, false)) return !ec;
  in.commit(n);
  return !ec && n > 0;
}

// Writes the answers in hand in one write, giving the client until the idle timeout to take them.
asio::awaitable<connection::transfer_result> connection::write() {
  arm();
  ++server.stats_.writes;
  auto answers = std::string_view(many_hellos).substr(0, std::exchange(queued, 0) * hello_size);
  auto last = std::exchange(tail, {});
  if (answers.empty()) return asio::async_write(socket, asio::buffer(last), use_tuple);
  if (last.empty()) return asio::async_write(socket, asio::buffer(answers), use_tuple);
  auto both = std::array{asio::buffer(answers), asio::buffer(last)};
  return asio::async_write(socket, both, use_tuple);
}

void connection::answer_error(int status, bool keep_alive) {
  scratch = replies::error(status, keep_alive);
  tail = scratch;
}

// Parses a head, then drops its body (a GET has no use for one) as it arrives. A request that is
// not a well-formed `GET /{name}` comes with the error status it gets. No request is taken while
// an answer that is not the common one, or a full queue, waits to go out; and a request that must
// wait a delay is held while answers are in hand, so that no answer waits on a later request.
std::optional<request> connection::take_request() {
  if (!tail.empty() || queued == max_queued) return std::nullopt;
  if (!pending) {
    if (in.data().empty()) return std::nullopt; // the parser would find nothing
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
  if (!whole) {
    auto n = std::min<std::uint64_t>(body_left, in.data().size());
    in.consume(static_cast<std::size_t>(n));
    body_left -= n;
    if (body_left > 0) return std::nullopt;
    whole = true;
    reading = false;
    disarm(); // the whole request is in
    if (pending->status == 200) {
      pending->delay = server.delays_.next();
      ++server.stats_.greeted;
      server.stats_.total_delay += pending->delay;
    }
  }
  if (pending->delay > 0ms && queued > 0) return std::nullopt;
  whole = false;
  return std::exchange(pending, std::nullopt);
}

// Ends the connection without destroying an answer the client has not read yet, which closing
// with unread bytes in the socket would do (the kernel resets the connection): sends the answers
// in hand, shuts down the sending side, then reads until the client closes, for a moment.
asio::awaitable<void> connection::close() {
  pending.reset(); // a request broken off is no longer in flight
  if (queued > 0 || !tail.empty()) co_await write();
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

} // namespace server
