// The executor an operation's completion handler names, for bounded/as_completed.hpp.
//
// Copyright the hundred-million-requests authors. Distributed under the Boost Software License,
// Version 1.0.
#pragma once

#include <asio/execution/blocking.hpp>
#include <asio/execution/executor.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/execution/relationship.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>
#include <asio/require.hpp>

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

/// @cond DETAIL
namespace bounded::detail {

// A reference to the stream's executor, one pointer wide. An operation keeps a copy of its
// handler's executor for as long as it runs (co_spawn, in every coroutine's frame), and a
// type-erased executor such as asio::any_io_executor is 56 bytes. This one is valid while the
// handler lives, and so the stream's state, which holds the executor it refers to.
//
// It runs functions on that executor, answers queries from it, and keeps blocking.never and
// relationship.continuation in the pointer's low bits. It does not count outstanding work: the
// state holds a work-counting copy of the executor while any handler lives (state::handler_made).
template <class Executor> class executor_ref {
public:
  // A template, so that copying an executor_ref never considers converting it to an Executor:
  // with libc++, asking whether it is nothrow copy constructible did, and the converting
  // constructor of asio::any_io_executor then asked whether executor_ref is an executor, which
  // is what was being worked out.
  template <class E, std::enable_if_t<std::is_same_v<E, Executor>, int> = 0>
  explicit executor_ref(const E& executor) noexcept
      : bits_(reinterpret_cast<std::uintptr_t>(&executor)) {}

  template <class F> void execute(F&& f) const {
    namespace x = asio::execution;
    if (!(bits_ & never))
      asio::prefer(target(), x::blocking.possibly).execute(std::forward<F>(f));
    else if (bits_ & continuation)
      asio::prefer(asio::require(target(), x::blocking.never), x::relationship.continuation)
          .execute(std::forward<F>(f));
    else
      asio::require(target(), x::blocking.never).execute(std::forward<F>(f));
  }

  executor_ref require(asio::execution::blocking_t::never_t) const noexcept {
    return with(never, true);
  }
  executor_ref require(asio::execution::blocking_t::possibly_t) const noexcept {
    return with(never, false);
  }
  executor_ref require(asio::execution::relationship_t::continuation_t) const noexcept {
    return with(continuation, true);
  }
  executor_ref require(asio::execution::relationship_t::fork_t) const noexcept {
    return with(continuation, false);
  }

  asio::execution::blocking_t query(asio::execution::blocking_t) const noexcept {
    if (bits_ & never) return asio::execution::blocking.never;
    return asio::execution::blocking.possibly;
  }
  asio::execution::relationship_t query(asio::execution::relationship_t) const noexcept {
    if (bits_ & continuation) return asio::execution::relationship.continuation;
    return asio::execution::relationship.fork;
  }
  template <class Property>
  auto query(const Property& p) const -> decltype(asio::query(std::declval<const Executor&>(), p)) {
    return asio::query(target(), p);
  }

  friend bool operator==(const executor_ref& a, const executor_ref& b) noexcept {
    return a.bits_ == b.bits_;
  }
  friend bool operator!=(const executor_ref& a, const executor_ref& b) noexcept {
    return a.bits_ != b.bits_;
  }

private:
  static constexpr std::uintptr_t never = 1, continuation = 2, flags = never | continuation;
  static_assert(alignof(Executor) > flags, "the flags live in the pointer's low bits");

  const Executor& target() const noexcept {
    return *reinterpret_cast<const Executor*>(bits_ & ~flags);
  }
  executor_ref with(std::uintptr_t flag, bool on) const noexcept {
    auto copy = *this;
    copy.bits_ = on ? (bits_ | flag) : (bits_ & ~flag);
    return copy;
  }

  std::uintptr_t bits_;
};

// Whether an operation's handler names an executor_ref rather than a copy of the executor: for
// standard executors wider than a pointer (a type-erased one, a strand).
template <class Executor>
inline constexpr bool names_executor_ref = asio::execution::is_executor<Executor>::value &&
                                           (sizeof(Executor) > sizeof(void*));

// Whether the calling thread runs the executor's context now, so that a dispatch there would run
// its function at once: asked of the executor where it can answer (an io_context's, a strand, or
// either behind asio::any_io_executor), else false, and the caller dispatches.
template <class Executor> bool running_in_this_thread(const Executor& executor) noexcept {
  if constexpr (requires { bool(executor.running_in_this_thread()); }) {
    return executor.running_in_this_thread();
  } else if constexpr (requires { executor.template target<asio::io_context::executor_type>(); }) {
    using plain = asio::io_context::executor_type;
    using tracked =
        decltype(asio::prefer(std::declval<plain>(), asio::execution::outstanding_work.tracked));
    if (auto* e = executor.template target<plain>()) return e->running_in_this_thread();
    if (auto* e = executor.template target<tracked>()) return e->running_in_this_thread();
    return false;
  } else {
    return false;
  }
}

// The outstanding work the state counts on the stream's executor while any handler lives: an
// executor that counts it (a standard executor), or a work guard (a Networking TS one).
template <class Executor, class = void> struct held_work_of {
  using type = std::optional<asio::executor_work_guard<Executor>>;
  static typename type::value_type make(const Executor& e) { return asio::make_work_guard(e); }
};
template <class Executor>
struct held_work_of<Executor, std::enable_if_t<asio::execution::is_executor<Executor>::value>> {
  static auto make(const Executor& e) {
    return asio::prefer(e, asio::execution::outstanding_work.tracked);
  }
  using type = std::optional<decltype(make(std::declval<const Executor&>()))>;
};
template <class Executor> using held_work = typename held_work_of<Executor>::type;

} // namespace bounded::detail
/// @endcond
