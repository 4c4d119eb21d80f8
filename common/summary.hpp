// The end-of-run line every client prints:
//   N requests: ok X, failed Y (first failure: <step>: <reason>)
// the same line when the run is interrupted (Ctrl-C):
//   interrupted after K of N requests: ok X, failed Y (first failure: <step>: <reason>)
// and, while a long run lasts, a progress line on a terminal.
#pragma once

#include "common/response.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace common {

/// Counts the outcomes of a run's requests and reports them in one line on stderr.
///
/// While the run lasts, a thread of its own shows progress once a second (requests done,
/// requests per second, resident memory, time left) when stderr is a terminal; set
/// `PROGRESS=1` to have it printed as lines anyway (for logs), or `PROGRESS=0` to silence it.
/// The counters are written by one thread only, the one making the requests.
///
/// While it lasts, the first summary of a process also catches SIGINT (Ctrl-C) and SIGTERM: it
/// then prints `interrupted after K of N requests: ...` with the counts so far and ends the
/// process at once with status 128 + the signal's number (130 for Ctrl-C).
class summary {
public:
  /// Starts a run with nothing counted yet.
  /// @param requests how many requests the run was asked to make (the article's N)
  explicit summary(std::uint64_t requests);
  ~summary();
  summary(const summary&) = delete;
  summary& operator=(const summary&) = delete;

  /// Counts one request's outcome.
  void add(const response& r);
  /// Counts one successful request.
  void add_ok() noexcept {
    ok_.store(ok_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  /// Counts one failed request; the first failure is kept for the report.
  void add_failure(std::string_view step, std::string_view reason);

  /// Requests that succeeded so far.
  std::uint64_t ok() const noexcept { return ok_.load(std::memory_order_relaxed); }
  /// Requests that failed so far.
  std::uint64_t failed() const noexcept { return failed_.load(std::memory_order_relaxed); }
  /// The one-line report, without a newline.
  std::string line() const;
  /// The report of a run stopped before its end: `interrupted after K of N requests: ...`.
  std::string interrupted_line() const;
  /// Stops the progress display, prints line() to stderr, and returns the exit status: 0 when
  /// every request succeeded, else 1.
  int print();

private:
  void count_failure() noexcept {
    failed_.store(failed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void show_progress(std::stop_token stop, bool terminal);
  std::string counts() const;
  void watch_signals();
  void stop_watching_signals();
  void stop_progress();

  std::uint64_t requests_;
  std::atomic<std::uint64_t> ok_{0};
  std::atomic<std::uint64_t> failed_{0};
  mutable std::mutex first_failure_mutex_; // the signal watcher reads what the run writes
  std::string first_failure_;
  std::jthread progress_;
  std::jthread signal_watcher_; // when this summary is the one that catches the signals
};

} // namespace common
