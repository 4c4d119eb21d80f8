// The end-of-run line every client prints:
//   N requests: ok X, failed Y (first failure: <step>: <reason>)
// the same line when the run is interrupted (Ctrl-C):
//   interrupted after K of N requests: ok X, failed Y (first failure: <step>: <reason>)
// and, while a long run lasts, a progress line on a terminal:
//   progress: T s, D of N requests (P%), R/s, RSS M MiB, F failed, ETA H:MM:SS
// whose format is written and read here only (progress_line, parse_progress_line): the live view
// reads it; the benchmarks' awk and a test's regex follow it.
#pragma once

#include "common/response.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace common {

/// The figures of one progress line.
struct progress {
  double seconds = 0;         ///< since the run started (printed whole)
  std::uint64_t done = 0;     ///< requests done, ok or failed
  std::uint64_t requests = 0; ///< the run's N
  double rate = 0;            ///< requests per second so far (printed whole)
  double rss_mib = 0;         ///< resident memory now, in MiB (one decimal)
  std::uint64_t failed = 0;   ///< requests that failed
  std::string eta;            ///< time left, H:MM:SS, or ? before the first request is done
};

/// `progress: 12 s, 3456 of 10000 requests (34.6%), 288/s, RSS 5.9 MiB, 0 failed, ETA 0:00:23`,
/// without a newline; the percentage is done of requests.
std::string progress_line(const progress& p);
/// The figures of a line that progress_line() wrote (the percentage is not kept), or nothing for
/// any other line.
std::optional<progress> parse_progress_line(std::string_view line);

/// Counts the outcomes of a run's requests and reports them in one line on stderr.
///
/// While the run lasts, a thread of its own shows progress once a second (requests done,
/// requests per second, resident memory, time left) when stderr is a terminal; set
/// `PROGRESS=1` to have it printed as lines anyway (for logs), or `PROGRESS=0` to silence it;
/// `PROGRESS_INTERVAL_MS` sets how often (10 to 60000 ms; the live view asks for 200).
/// The counters are written by one thread only, the one making the requests.
///
/// Until print(), the first summary of a process also catches SIGINT (Ctrl-C) and SIGTERM: it
/// then prints interrupted_line(), the counts so far, and ends the process at once with status
/// 128 + the signal's number (130 for Ctrl-C).
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
  /// The one-line report, without a newline: `N requests: ok X, failed Y ...`.
  std::string line() const;
  /// The report of a run stopped before its end: `interrupted after K of N requests: ok X, ...`.
  std::string interrupted_line() const;
  /// Stops the progress display and the catching of signals, prints line() to stderr, and
  /// returns the exit status: 0 when every request succeeded, else 1.
  int print();

private:
  struct text; // a line built without allocating, as a signal handler must

  void count_failure() noexcept {
    failed_.store(failed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void keep_first_failure(std::string_view failure) noexcept;
  void write_counts(text& out) const noexcept;
  void write_interrupted_line(text& out) const noexcept;
  void show_progress(bool terminal);
  void stop_progress();
  static void on_signal(int signal_number) noexcept;
  void stop_catching_signals() noexcept;

  std::uint64_t requests_;
  std::atomic<std::uint64_t> ok_{0};
  std::atomic<std::uint64_t> failed_{0};
  char first_failure_[256] = {};                   // `step: reason`, written once
  std::atomic<std::size_t> first_failure_size_{0}; // set once first_failure_ is written
  bool terminal_progress_ = false;                 // a progress line to clear when interrupted
  bool catches_signals_ = false;
  // The progress thread, and how it is told to stop (std::thread, not std::jthread and its
  // std::stop_token: libc++ 16, clang's library, has neither).
  std::mutex progress_mutex_;
  std::condition_variable progress_wake_;
  bool progress_stopping_ = false; // under progress_mutex_
  std::thread progress_;
};

} // namespace common
