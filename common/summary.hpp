// The end-of-run line every client prints:
//   N requests: ok X, failed Y (first failure: <step>: <reason>)
// and, while a long run lasts, a progress line on a terminal.
#pragma once

#include "common/response.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

namespace common {

/// Counts the outcomes of a run's requests and reports them in one line on stderr.
///
/// While the run lasts, a thread of its own shows progress once a second (requests done,
/// requests per second, resident memory, time left) when stderr is a terminal; set
/// `PROGRESS=1` to have it printed as lines anyway (for logs), or `PROGRESS=0` to silence it;
/// `PROGRESS_INTERVAL_MS` sets how often (10 to 60000 ms; the live view asks for 200).
/// The counters are written by one thread only, the one making the requests.
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
  /// Stops the progress display, prints line() to stderr, and returns the exit status: 0 when
  /// every request succeeded, else 1.
  int print();

private:
  void count_failure() noexcept {
    failed_.store(failed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void show_progress(std::stop_token stop, bool terminal);

  std::uint64_t requests_;
  std::atomic<std::uint64_t> ok_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::string first_failure_;
  std::jthread progress_;
};

} // namespace common
