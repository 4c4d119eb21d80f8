// The end-of-run line every client prints:
//   N requests: ok X, failed Y (first failure: <step>: <reason>)
#pragma once

#include "common/response.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace common {

/// Counts the outcomes of a run's requests and reports them in one line on stderr.
class summary {
public:
  /// Starts a run with nothing counted yet.
  /// @param requests how many requests the run was asked to make (the article's N)
  explicit summary(std::uint64_t requests) noexcept : requests_(requests) {}

  /// Counts one request's outcome.
  void add(const response& r);
  /// Counts one successful request.
  void add_ok() noexcept { ++ok_; }
  /// Counts one failed request; the first failure is kept for the report.
  void add_failure(std::string_view step, std::string_view reason);

  /// Requests that succeeded so far.
  std::uint64_t ok() const noexcept { return ok_; }
  /// Requests that failed so far.
  std::uint64_t failed() const noexcept { return failed_; }
  /// The one-line report, without a newline.
  std::string line() const;
  /// Prints line() to stderr and returns the exit status: 0 when every request succeeded, else 1.
  int print() const;

private:
  std::uint64_t requests_;
  std::uint64_t ok_ = 0;
  std::uint64_t failed_ = 0;
  std::string first_failure_;
};

} // namespace common
