// A connection's read buffer, shared by the server and the session.
#pragma once

#include <asio/buffer.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace common {

/// Bytes arrive at the end and are consumed from the front. The buffer starts small, so that ten
/// thousand idle connections cost little, and grows, up to a limit, only when what is unconsumed
/// fills it.
class read_buffer {
public:
  /// @param initial_bytes the first allocation, made at the first read
  /// @param max_bytes the most it grows to; a message head must fit in it
  read_buffer(std::size_t initial_bytes, std::size_t max_bytes) noexcept
      : initial_(initial_bytes), max_(max_bytes) {}

  /// The bytes received and not consumed yet.
  std::string_view data() const noexcept { return {bytes_.get() + begin_, end_ - begin_}; }
  /// True when every byte received has been consumed.
  bool empty() const noexcept { return begin_ == end_; }

  /// Drops `n` bytes from the front.
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  /// Room for the next read, after the unconsumed bytes: compacts, or grows when full. Empty
  /// when the unconsumed bytes already fill the largest buffer allowed.
  asio::mutable_buffer space() {
    if (end_ == capacity_ && begin_ > 0) {
      std::memmove(bytes_.get(), bytes_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    } else if (end_ == capacity_ && capacity_ < max_) {
      auto bigger = std::max(initial_, std::min(capacity_ * 2, max_));
      auto grown = std::make_unique_for_overwrite<char[]>(bigger);
      if (end_ > 0) std::memcpy(grown.get(), bytes_.get(), end_);
      bytes_ = std::move(grown);
      capacity_ = bigger;
    }
    return asio::buffer(bytes_.get() + end_, capacity_ - end_);
  }

  /// Counts `n` bytes just read into space().
  void commit(std::size_t n) noexcept { end_ += n; }
  /// Forgets every byte (the connection closed).
  void clear() noexcept { begin_ = end_ = 0; }

private:
  std::unique_ptr<char[]> bytes_;
  std::size_t capacity_ = 0, begin_ = 0, end_ = 0;
  std::size_t initial_, max_;
};

} // namespace common
