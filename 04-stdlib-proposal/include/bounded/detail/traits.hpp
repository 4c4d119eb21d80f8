// The plumbing of bounded/as_completed.hpp that a reader of the algorithm can skip: what a
// completion signature makes of a result, whether it carries an error, what the input is, and the
// counters' atomics. Included by bounded/as_completed.hpp, which declares what is used here.
//
// Copyright the hundred-million-requests authors. Distributed under the Boost Software License,
// Version 1.0.
#pragma once

#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/version.hpp>
#if ASIO_VERSION >= 102400
#include <asio/deferred.hpp>
#else
#include <asio/experimental/deferred.hpp>
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <ranges>
#include <system_error>
#include <tuple>
#include <type_traits>

namespace bounded {

/// @cond DETAIL
template <class T, class Executor> struct operation_signature<asio::awaitable<T, Executor>> {
  using type = void(std::exception_ptr, T);
};

template <class Executor> struct operation_signature<asio::awaitable<void, Executor>> {
  using type = void(std::exception_ptr);
};

#if ASIO_VERSION >= 102400
template <class Operation>
struct operation_signature<Operation, std::enable_if_t<asio::is_deferred<Operation>::value>> {
  using type = asio::completion_signature_of_t<Operation>;
};
#else
template <class Operation>
struct operation_signature<Operation,
                           std::enable_if_t<asio::experimental::is_deferred<Operation>::value>> {
  using type = typename asio::experimental::detail::deferred_signature<Operation>::type;
};
#endif

namespace detail {

// The value a result holds: nothing, the single argument, or a tuple of all of them.
template <class Signature> struct value_of;
template <class R> struct value_of<R()> { using type = std::tuple<>; };
template <class R, class A> struct value_of<R(A)> { using type = std::decay_t<A>; };
template <class R, class A, class B, class... C> struct value_of<R(A, B, C...)> {
  using type = std::tuple<std::decay_t<A>, std::decay_t<B>, std::decay_t<C>...>;
};

// The error an operation completed with, if any: its first argument, when that is a non-zero
// std::error_code or a non-null std::exception_ptr. Later arguments are values, whatever they hold.
template <class Signature> struct first_argument { using type = void; };
template <class R, class A, class... B> struct first_argument<R(A, B...)> {
  using type = std::decay_t<A>;
};

template <class Signature, class Value> const auto* error_argument(const Value& value) {
  using first = typename first_argument<Signature>::type;
  if constexpr (std::is_same_v<first, std::exception_ptr> ||
                std::is_same_v<first, std::error_code>) {
    if constexpr (std::is_same_v<Value, first>)
      return &value;
    else
      return &std::get<0>(value);
  } else {
    return static_cast<const void*>(nullptr);
  }
}

// Whether the value says its operation failed. Cheap: no exception is made.
template <class Signature, class Value> bool failed(const Value& value) {
  const auto* argument = error_argument<Signature>(value);
  if constexpr (std::is_same_v<decltype(argument), const void*>)
    return false;
  else
    return static_cast<bool>(*argument);
}

template <class Signature, class Value> std::exception_ptr error_in(const Value& value) {
  const auto* argument = error_argument<Signature>(value);
  if constexpr (std::is_same_v<decltype(argument), const void*>)
    return nullptr;
  else if constexpr (std::is_same_v<decltype(argument), const std::exception_ptr*>)
    return *argument;
  else
    return *argument ? std::make_exception_ptr(std::system_error(*argument)) : nullptr;
}

// The input: a range read synchronously, or an asynchronous source.
template <class Input> struct input_traits {
  static constexpr bool asynchronous = false;
  using operation_type = std::ranges::range_value_t<Input>;
};
template <async_source Input> struct input_traits<Input> {
  static constexpr bool asynchronous = true;
  using operation_type = typename Input::operation_type;
};

// Relaxed atomics written by one thread only (the executor's) and read by any: a plain load and
// store on common hardware.
struct atomic_counters {
  std::atomic<std::uint64_t> started{0}, completed{0}, failed{0};
  std::atomic<std::size_t> peak_in_flight{0};
  template <class T> static void add(std::atomic<T>& a, T n = 1) noexcept {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  counters snapshot() const noexcept {
    return {started.load(std::memory_order_relaxed), completed.load(std::memory_order_relaxed),
            failed.load(std::memory_order_relaxed), peak_in_flight.load(std::memory_order_relaxed)};
  }
};

template <class T> struct is_awaitable : std::false_type {};
template <class T, class E> struct is_awaitable<asio::awaitable<T, E>> : std::true_type {};

// What a worker of the stream needs to know of an awaitable operation: what it returns, and the
// executor type of the coroutines that can await it.
template <class T> struct awaitable_parts;
template <class T, class E> struct awaitable_parts<asio::awaitable<T, E>> {
  using value = T;
  using executor = E;
};

template <class Signature, class Range> struct signature_for { using type = Signature; };
struct deduce;
template <class Range> struct signature_for<deduce, Range> {
  using type = typename operation_signature<std::ranges::range_value_t<Range>>::type;
};

} // namespace detail
/// @endcond

} // namespace bounded
