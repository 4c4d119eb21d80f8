// The one way the tools and the tests start a program, capture what it prints, wait for a line
// of it (the server's `listening on http://...`), and stop it: timed, live and tests/testing.cpp
// all use it. POSIX fork and exec, with what differs between systems in common/platform.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/resource.h>
#include <sys/types.h>

namespace tools {

/// Where a child's standard stream goes.
enum class stream {
  inherit, ///< this program's own
  pipe,    ///< a pipe that child::out() or child::err() collects
  null,    ///< /dev/null
  as_out,  ///< stderr only: wherever stdout goes (one pipe for both)
};

struct spawn_options {
  stream in = stream::inherit;
  stream out = stream::pipe;
  stream err = stream::pipe;
  bool search_path = false;         ///< a bare name is looked up in PATH (execvp), as a shell does
  bool own_process_group = false;   ///< setpgid(0, 0): a terminal's Ctrl-C does not reach it
  int parent_death_signal = 0;      ///< when not 0: sent to the child if this program dies
  std::vector<int> default_signals; ///< reset to SIG_DFL (ignored signals survive exec)
  /// Close every descriptor from 3 up in the child: sockets that are not close-on-exec (Asio's).
  bool close_other_descriptors = false;
  std::vector<std::string> environment; ///< NAME=VALUE, added to this program's environment
};

/// How a child ended: its wait status and the resources it used.
struct exit_status {
  int status = 0; ///< as waitpid() reports it
  rusage usage{}; ///< from wait4(): ru_maxrss is its peak resident set size
  bool signalled() const noexcept;
  int code() const noexcept;   ///< its exit status, or -1 when a signal ended it
  int signal() const noexcept; ///< the signal that ended it, or 0
};

/// A child process. Its pipes are read without blocking, into out() and err(), by the calls that
/// wait (read_for, wait_for_line, stop). The destructor kills (SIGKILL) and reaps a child that is
/// still running.
class child {
public:
  child() = default;
  /// Starts `argv[0]` with `argv`. On failure (a pipe, fork, or exec itself) pid() is -1 and
  /// error() is the errno: the caller can say `cannot run X: No such file or directory`.
  child(const std::vector<std::string>& argv, const spawn_options& options);
  ~child();
  child(child&& other) noexcept;
  child& operator=(child&& other) noexcept;

  pid_t pid() const noexcept { return pid_; }
  int error() const noexcept { return error_; }
  bool running() const noexcept { return pid_ > 0; }

  /// What it printed and nobody consumed yet; callers may take from the front.
  std::string& out() noexcept { return out_; }
  std::string& err() noexcept { return err_; }
  /// The pipes, -1 once they ended (or for a stream that is not a pipe).
  int out_fd() const noexcept { return out_fd_; }
  int err_fd() const noexcept { return err_fd_; }
  /// Hands the stderr pipe (blocking again) to the caller, who reads and closes it, e.g. on a
  /// thread of its own; the child no longer reads it.
  int release_err() noexcept;

  /// Waits up to `timeout` for either pipe, then reads what is there. False once both ended.
  bool read_for(std::chrono::milliseconds timeout);
  /// Reads its stdout (and stderr meanwhile) until a line containing `text` is complete, and
  /// returns it from `text` to the end of the line; what came before it and the line itself are
  /// taken out of out(). Nothing when stdout ended first (the child exited: out_fd() is then -1),
  /// `timeout` passed, or `give_up()` said so (asked at least ten times a second).
  std::optional<std::string> wait_for_line(std::string_view text, std::chrono::milliseconds timeout,
                                           const std::function<bool()>& give_up = {});

  /// Sends `signal`, reads the pipes until they end, and reaps it; SIGKILL when they have not
  /// ended after `grace`.
  exit_status stop(int signal, std::chrono::milliseconds grace);
  /// Waits for it to end and reaps it (its pipes are read no more, and closed).
  exit_status wait();
  /// Reaps it if it has ended; nothing if it is still running.
  std::optional<exit_status> try_wait();

private:
  void close_pipes() noexcept;

  pid_t pid_ = -1;
  int error_ = 0;
  int out_fd_ = -1, err_fd_ = -1;
  std::string out_, err_;
};

/// The line the delay server prints once it accepts connections: `listening on http://HOST:PORT`.
inline constexpr std::string_view listening_text = "listening on http://";

/// Waits for the server's listening line and returns its port, or nothing (see wait_for_line).
std::optional<std::uint16_t> wait_until_listening(child& server, std::chrono::milliseconds timeout,
                                                  const std::function<bool()>& give_up = {});

} // namespace tools
