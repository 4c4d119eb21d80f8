// Helpers for the tests: the delay server on a thread of its own, and running the programs.
#pragma once

#include "server/server.hpp"
#include "tools/process.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace common::testing {

/// The delay server's whole answer to `GET /{name}`, byte for byte.
inline constexpr std::string_view server_hello = "HTTP/1.1 200 OK\r\n"
                                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                                 "Content-Length: 13\r\n"
                                                 "\r\n"
                                                 "Hello, World!";

/// Server options for tests: a free port and no delay.
server::options zero_delay();

/// The delay server, running on its own thread from construction until stop() or destruction.
class running_server {
public:
  explicit running_server(server::options options = zero_delay());
  ~running_server();
  running_server(const running_server&) = delete;
  running_server& operator=(const running_server&) = delete;

  /// The port it listens on.
  std::uint16_t port() const noexcept { return port_; }
  /// The article's URL template, pointing at this server: `http://127.0.0.1:PORT/{}`.
  std::string url() const;
  /// A copy of the server's counters, read on its thread.
  server::stats stats();
  /// How many times each name was requested.
  std::map<std::string, int> names();
  /// Stops the server and waits for its thread; idempotent.
  void stop();

private:
  asio::io_context io_;
  server::delay_server server_;
  std::uint16_t port_;
  std::mutex mutex_;
  std::map<std::string, int> names_;
  std::thread thread_;
};

/// A hand-written server for tests of misbehaving peers: every connection runs `script` on a
/// thread of its own, with a blocking socket. The destructor shuts the sockets down (so blocked
/// reads return) and joins the threads.
class scripted_server {
public:
  /// Gets the accepted socket and the connection's number, counting from 0.
  using script = std::function<void(asio::ip::tcp::socket&, int)>;

  explicit scripted_server(script s);
  ~scripted_server();
  scripted_server(const scripted_server&) = delete;
  scripted_server& operator=(const scripted_server&) = delete;

  /// The port it listens on.
  std::uint16_t port() const noexcept { return port_; }
  /// `http://127.0.0.1:PORT/{}`.
  std::string url() const;
  /// Connections accepted so far.
  int connections() const noexcept { return connections_; }

private:
  void accept_loop();

  script script_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> sockets_;
  std::vector<std::thread> threads_;
  std::thread acceptor_thread_;
};

/// The path of a program built by this project; for `NAME.py`, the article's Python program of
/// that name in its stage's folder.
std::string bin(const std::string& program);

/// Why the Python programs cannot run here (Debian's python3 lacks aiohttp or requests), as a
/// test's skip note; nullptr when they can.
const char* python_missing();

/// The `server` program in a child process, for tests that kill or restart it, or that need
/// more file descriptors than one process may have.
class server_process {
public:
  /// Starts `server ARGS...` and waits for its `listening on` line; throws if it does not come.
  /// Another `program` may stand in front of the server, e.g. `/bin/sh` with `-c "ulimit -n 64 &&
  /// exec .../server ..."`, as long as the server ends up with the process (exec).
  explicit server_process(std::vector<std::string> args = {"--port", "0", "--max-delay", "0"},
                          std::string program = bin("server"));
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  /// The port it listens on.
  std::uint16_t port() const noexcept { return port_; }
  /// `http://127.0.0.1:PORT/{}`.
  std::string url() const;
  /// Its process id, for reading /proc/PID; -1 once stopped.
  pid_t pid() const noexcept { return child_.pid(); }
  /// Sends `signal`, waits for the exit, and returns the exit status, what it printed on stdout
  /// after the listening line, and what it printed on stderr (read only while this waits on it,
  /// so a server that writes more than a pipe holds to stderr in between would block: the
  /// server writes a line or two).
  struct exit_info {
    int exit_code = -1; ///< -1 when a signal ended it
    int signal = 0;
    std::string out;
    std::string err;
  };
  exit_info stop(int signal = SIGTERM);

private:
  tools::child child_;
  std::uint16_t port_ = 0;
};

/// Reads one request head (up to the blank line) from a blocking socket; empty at end of stream.
std::string read_head(asio::ip::tcp::socket& socket);

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
std::uint16_t unused_port();

/// Polls `condition` every millisecond until it holds (true) or `timeout` passes (false): a bounded
/// wait on something a test cannot be told about, such as another process's state.
template <class Condition>
bool wait_until(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// How many file descriptors process `pid` has open (sockets included), from /proc/PID/fd.
std::size_t open_files(pid_t pid);

/// The resident set size of process `pid` now, in KiB: VmRSS in /proc/PID/status.
long resident_kb(pid_t pid);

/// What a program did.
struct process_result {
  int exit_code = -1;     ///< its exit status, or -1 when a signal ended it
  int signal = 0;         ///< the signal that ended it, or 0
  bool timed_out = false; ///< killed by run() for running too long
  long max_rss_kb = 0;    ///< its peak resident set size
  std::string out, err;   ///< what it printed
};

/// Runs a program from the build's bin directory (or any path with a '/') and waits for it,
/// killing it after `timeout`.
process_result run(std::vector<std::string> argv,
                   std::chrono::milliseconds timeout = std::chrono::seconds(60));

} // namespace common::testing
