#include "server/server.hpp"

#include "common/http.hpp"
#include "common/read_buffer.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>

namespace server {

using asio::ip::tcp;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace http = common::http;

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t initial_buffer_bytes = 1024;
constexpr std::uint64_t max_body_bytes = 1u << 20; // a GET has no business sending more

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

} // namespace

/// One client connection: its socket, delay timer, read buffer and deadline. It lives in the
/// frame of the coroutine that serves it and links itself into the server's list meanwhile.
struct delay_server::connection {
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

  // The client has until the idle timeout to send a whole request, or to read a response. The
  // watchdog's clock, read once a tick, is precise enough for that and costs nothing per request.
  void arm() noexcept { deadline = server.now_ + server.options_.idle_timeout; }
  void disarm() noexcept { deadline = clock::time_point::max(); }

  // Reads more bytes; false when the connection is done. The idle timeout runs from the first
  // read of a request to its end, so that a request trickling in byte by byte must still arrive
  // whole within it.
  asio::awaitable<bool> read_more() {
    auto room = in.space();
    if (room.size() == 0) co_return false;
    if (deadline == clock::time_point::max()) arm();
    auto [ec, n] = co_await socket.async_read_some(room, use_tuple);
    in.commit(n);
    co_return !ec;
  }

  asio::awaitable<bool> write(std::string_view bytes) {
    arm();
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(bytes), use_tuple);
    disarm();
    co_return !ec;
  }

  // Writes an error response and tells the caller to close.
  asio::awaitable<bool> write_error(int status, bool keep_alive) {
    auto body = std::string(reason_for(status)) + "\n";
    scratch = "HTTP/1.1 " + std::to_string(status) + " " + reason_for(status) +
              "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
              (status == 405 ? "\r\nAllow: GET" : "") +
              (keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n") + body;
    co_return co_await write(scratch) && keep_alive;
  }

  // Reads until the client closes, for a moment, so that closing with unread bytes does not reset
  // the connection and destroy a response the client has not read yet.
  asio::awaitable<void> linger() {
    char sink[256];
    deadline = server.now_ + std::min<std::chrono::milliseconds>(server.options_.idle_timeout, 1s);
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(sink), use_tuple);
      if (ec) break;
    }
  }

  // Discards a request body that nobody asked for.
  asio::awaitable<bool> skip(std::uint64_t bytes) {
    for (;;) {
      auto n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, in.data().size()));
      in.consume(n);
      bytes -= n;
      if (bytes == 0) {
        disarm(); // the whole request is in
        co_return true;
      }
      if (!co_await read_more()) co_return false;
    }
  }

  delay_server& server;
  tcp::socket socket;
  asio::steady_timer timer;
  http::request_parser parser;
  common::read_buffer in;
  std::string scratch;
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

asio::awaitable<void> delay_server::serve(tcp::socket socket) {
  connection c(*this, std::move(socket));
  for (bool open = true; open && !stopping_;) {
    http::request request;
    std::error_code ec;
    auto head = c.parser.parse(c.in.data(), request, ec);
    if (ec) {
      co_await c.write_error(status_for(ec), false);
      break;
    }
    if (head == 0) { // more of the request, which must arrive whole within the idle timeout
      auto room = c.in.space();
      if (room.size() == 0) break;
      if (c.deadline == clock::time_point::max()) c.arm();
      auto [error, n] = co_await c.socket.async_read_some(room, use_tuple);
      c.in.commit(n);
      open = !error;
      continue;
    }
    c.in.consume(head);
    if (request.content_length == 0) c.disarm(); // the whole request is in
    ++stats_.requests;
    stats_.peak_in_flight = std::max(stats_.peak_in_flight, ++stats_.in_flight);
    struct in_flight_guard {
      stats& s;
      ~in_flight_guard() { --s.in_flight; }
    } guard{stats_};

    auto keep_alive = request.keep_alive;
    auto name = name_of(request.target);
    // skip() may read the body over the head's bytes, which `request` and `name` point into.
    auto is_get = request.method == "GET";
    std::string name_copy;
    if (request.content_length > 0) name = name_copy.assign(name);
    if (request.content_length > max_body_bytes) {
      open = co_await c.write_error(413, false);
    } else if (request.content_length > 0 && !co_await c.skip(request.content_length)) {
      open = false;
    } else if (!is_get) {
      open = co_await c.write_error(405, keep_alive);
    } else if (name.empty()) {
      open = co_await c.write_error(404, keep_alive);
    } else {
      if (on_request) on_request(name);
      ++stats_.greeted;
      if (auto delay = delays_.next(); delay > 0ms) {
        stats_.total_delay += delay;
        c.timer.expires_after(delay);
        auto [cancelled] = co_await c.timer.async_wait(use_tuple);
        if (cancelled) break;
      }
      keep_alive = keep_alive && !stopping_;
      c.arm();
      auto [error, n] = co_await asio::async_write(
          c.socket, asio::buffer(hello(keep_alive, request.minor_version)), use_tuple);
      c.disarm();
      open = !error && keep_alive;
    }
  }
  std::error_code ignored;
  c.socket.shutdown(tcp::socket::shutdown_send, ignored);
  if (!stopping_ && !ignored) co_await c.linger();
}

} // namespace server
