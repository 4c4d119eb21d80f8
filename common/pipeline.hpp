// HTTP/1.1 pipelining, the session's second way to send requests (session_options::pipeline above
// 1): what a pipelined request is. A detail of common::session, which includes it for async_get();
// the engine itself is in pipeline.cpp.
#pragma once

#include "common/response.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/dispatch.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace common::detail {

struct connection;
struct pool;

/// A pipelined request, from the moment it is sent until its response or its failure is handed
/// over: its URL, its place in a connection's queue, and (in exchange_for) its handler.
struct exchange {
  enum class state { queued, answered, retry };
  explicit exchange(std::string u) noexcept : url(std::move(u)) {}
  std::string url;
  std::string_view target; // in url
  state current = state::queued;
  bool cancelled = false;       // by its handler's cancellation slot
  pool* owner = nullptr;        // while it is queued
  connection* on = nullptr;     // the connection it is queued on
  exchange* next = nullptr;     // behind it in that connection's queue
  asio::cancellation_slot slot; // its handler's, if connected
  /// Frees this, then hands `r` to the handler on its executor: there and then when that is
  /// `io` and the caller runs on it (`on_io`), else through asio::dispatch.
  virtual void complete(const asio::any_io_executor& io, response&& r, bool on_io) = 0;
  /// Frees this and its handler without calling it: the session is gone with it unanswered.
  virtual void discard() noexcept = 0;

protected:
  ~exchange() = default;
};

/// Cancels a queued request, from its handler's cancellation slot (pipeline.cpp).
void cancel(exchange& x);

/// An exchange with its handler, in one allocation made with the handler's allocator.
template <class Handler> struct exchange_for final : exchange {
  using allocator_type = typename std::allocator_traits<
      asio::associated_allocator_t<Handler>>::template rebind_alloc<exchange_for>;
  using traits = std::allocator_traits<allocator_type>;

  exchange_for(std::string url, Handler h) noexcept
      : exchange(std::move(url)), handler(std::move(h)) {}

  static exchange* make(std::string url, Handler h) {
    allocator_type a(asio::get_associated_allocator(h));
    auto* x = traits::allocate(a, 1);
    traits::construct(a, x, std::move(url), std::move(h)); // noexcept
    x->slot = asio::get_associated_cancellation_slot(x->handler);
    if (x->slot.is_connected())
      x->slot.assign([x](asio::cancellation_type) { detail::cancel(*x); });
    return x;
  }

  void complete(const asio::any_io_executor& io, response&& r, bool on_io) override {
    Handler h = std::move(handler);
    free(asio::get_associated_allocator(h));
    auto ex = asio::get_associated_executor(h, io);
    if constexpr (std::is_same_v<decltype(ex), asio::any_io_executor>)
      if (on_io && ex == io) return std::move(h)(std::exception_ptr(), std::move(r));
    asio::dispatch(ex, [h = std::move(h), r = std::move(r)]() mutable {
      std::move(h)(std::exception_ptr(), std::move(r));
    });
  }

  void discard() noexcept override { free(asio::get_associated_allocator(handler)); }

  void free(allocator_type a) noexcept {
    if (slot.is_connected()) slot.clear();
    traits::destroy(a, this);
    traits::deallocate(a, this, 1);
  }

  Handler handler;
};

/// The requests on a pipelined connection, in the order they are written: a list threaded through
/// the requests themselves, so that a connection allocates nothing for it (a std::deque would
/// allocate some 600 bytes per connection even with pipelining off).
struct exchange_queue {
  bool empty() const noexcept { return count == 0; }
  std::size_t size() const noexcept { return count; }
  exchange* front() const noexcept { return head; }
  void push_back(exchange* x) noexcept {
    x->next = nullptr;
    (head ? tail->next : head) = x;
    tail = x;
    ++count;
  }
  void pop_front() noexcept {
    head = head->next;
    if (!head) tail = nullptr;
    --count;
  }

  exchange *head = nullptr, *tail = nullptr;
  std::size_t count = 0;
};

/// Sends a pipelined request on the pool's connections; refuses (posted) a URL not the pool's.
void send(const std::shared_ptr<pool>& p, exchange* x);

} // namespace common::detail
