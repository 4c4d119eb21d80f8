// The article's delay server: every `GET /{name}` answers "Hello, World!" after a random delay of
// 0 to 3 seconds. One coroutine per connection, so ten thousand sleeping requests cost ten
// thousand small coroutine frames and no threads.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>

/// The article's delay server.
namespace server {

class connection;

/// How the server listens and how long it makes each request wait.
struct options {
  std::string host = "127.0.0.1";                 ///< the address to listen on
  std::uint16_t port = 8080;                      ///< 0 picks a free port
  unsigned max_delay = 3;                         ///< each delay is randint(0, max_delay) units
  std::chrono::milliseconds delay_unit{1000};     ///< 1 s as in the article; 1 ms for fast runs
  std::optional<std::uint64_t> seed;              ///< for reproducible delays
  std::size_t max_connections = 100'000;          ///< more are answered 503 and closed
  std::chrono::milliseconds idle_timeout{60'000}; ///< to send a whole request, or read a response
  std::size_t max_head_bytes = 8192;              ///< a longer request head gets 431
};

/// What the server has done so far.
struct stats {
  std::uint64_t requests = 0;               ///< requests received, whatever their answer
  std::uint64_t connections = 0;            ///< connections accepted
  std::size_t open_connections = 0;         ///< connections open now
  std::size_t peak_connections = 0;         ///< most connections open at once
  std::size_t in_flight = 0;                ///< requests being delayed or answered now
  std::size_t peak_in_flight = 0;           ///< most requests in flight at once
  std::uint64_t rejected = 0;               ///< connections refused with 503 over max_connections
  std::uint64_t greeted = 0;                ///< `GET /{name}` requests, answered "Hello, World!"
  std::chrono::milliseconds total_delay{0}; ///< the delays they were given, added up
  std::uint64_t writes = 0;                 ///< writes of answers: fewer when pipelined
};

/// The article's `randint(0, 3)` seconds: each delay is a whole number of units from 0 to
/// max_delay, uniformly, from a seeded generator.
class delays {
public:
  /// Seeds the generator with `opts.seed`, or from std::random_device when there is none.
  explicit delays(const options& opts);
  /// The next request's delay.
  std::chrono::milliseconds next() { return distribution_(random_) * unit_; }

private:
  std::mt19937_64 random_;
  std::uniform_int_distribution<unsigned> distribution_;
  std::chrono::milliseconds unit_;
};

/// The delay server, run by the io_context it is given (one thread).
class delay_server {
public:
  /// Opens and binds the listening socket; throws std::system_error (e.g. address in use).
  delay_server(asio::io_context& io, options opts);
  /// Call stop() and let the io_context's run() return first: the connections' coroutines use
  /// the server.
  ~delay_server();
  /// Not copyable: the connections' coroutines refer to this server.
  delay_server(const delay_server&) = delete;
  /// Not copyable.
  delay_server& operator=(const delay_server&) = delete;

  /// Starts accepting connections.
  void start();
  /// Stops accepting and closes every connection; the io_context's run() then returns once the
  /// connections' coroutines have finished.
  void stop();

  /// The port actually bound (useful with port 0).
  std::uint16_t port() const noexcept { return port_; }
  /// The counters so far.
  const stats& statistics() const noexcept { return stats_; }

  /// Called with the name of every `GET /{name}` before it is answered (tests count requests).
  std::function<void(std::string_view name)> on_request;

private:
  friend class connection; // it counts itself in stats_ and links itself into connections_

  asio::awaitable<void> accept();
  asio::awaitable<void> serve(asio::ip::tcp::socket socket);
  void watch();

  asio::io_context& io_;
  options options_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  delays delays_;
  stats stats_;
  connection* connections_ = nullptr; // an intrusive list, for the watchdog and stop()
  asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point now_; // the watchdog's clock, read once a tick
  bool stopping_ = false;
};

} // namespace server
