// What the stream's tests share: running what is ready, reading an exception's message, and
// timers for operations to wait on until the test lets them go.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace bounded_testing {

// Runs what is ready. An io_context whose work ran out stops, so it is restarted each time.
inline std::size_t poll(asio::io_context& io) {
  io.restart();
  return io.poll();
}

inline std::string what(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  }
}

// `n` timers that never expire: an operation that waits on one runs until the test cancels it.
inline std::vector<std::unique_ptr<asio::steady_timer>> waiting_timers(asio::io_context& io,
                                                                       int n) {
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  for (int i = 0; i < n; ++i)
    timers.push_back(
        std::make_unique<asio::steady_timer>(io, asio::steady_timer::time_point::max()));
  return timers;
}

} // namespace bounded_testing
