// What both fuzz targets share: an invariant check the fuzzer reports as a crash, and feeding a
// stream to a connection one read at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace fuzz {

/// Stops the run, as a crash the fuzzer saves an input for, when `invariant` does not hold.
inline void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

/// How a stream is cut into reads: one of `first` bytes, then pieces of `then` bytes.
struct reads {
  std::size_t first;
  std::size_t then;
};

/// Appends `stream` to `pending` one read at a time, calling `drain` after each, until the stream
/// is used up or `drain` returns false.
template <class Drain>
void feed(std::string_view stream, reads cut, std::string& pending, Drain drain) {
  std::size_t at = 0;
  for (auto piece = cut.first;; piece = cut.then) {
    auto n = std::min(piece, stream.size() - at);
    pending.append(stream.substr(at, n));
    at += n;
    if (!drain() || at == stream.size()) return;
  }
}

} // namespace fuzz
