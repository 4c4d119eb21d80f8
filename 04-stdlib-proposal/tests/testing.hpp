// What the stream's tests share: running what is ready, and reading an exception's message.
#pragma once

#include <asio/io_context.hpp>

#include <cstddef>
#include <exception>
#include <string>

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

} // namespace bounded_testing
