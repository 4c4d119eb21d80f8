// bounded::as_completed and bounded::in_order: run a lazy sequence of asynchronous operations with
// at most `limit` of them started and not yet consumed, and read their results as they complete
// (or in input order); bounded::for_each, the same with a function for each result, complete only
// once everything it started has finished. The input is a range or an asynchronous source.
// Header-only, for standalone Asio 1.22 or later and C++20.
//
// The interface comes first; "How it works", further down, is a map of the algorithm, which is
// all in one class, detail::state. The plumbing it uses is in bounded/detail/.
//
// Copyright the hundred-million-requests authors. Distributed under the Boost Software License,
// Version 1.0.
#pragma once

#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/execution/executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/channel_error.hpp>
#include <asio/is_executor.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
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
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

/// The library's version, yyyymm of the paper revision it implements (R1, 2026-12), for
/// `#if BOUNDED_AS_COMPLETED_VERSION >= 202612L`: for_each, asynchronous input, set_limit,
/// counters, on_stop.
#define BOUNDED_AS_COMPLETED_VERSION 202612L

/// Bounded, lazy, completion-driven iteration over asynchronous operations.
namespace bounded {

/// The order in which results are handed out.
enum class order {
  completion, ///< as the operations complete (the default)
  input,      ///< in the order the input produced the operations
};

/// What a failed operation does to the others.
enum class errors {
  /// Every result is handed out with its own error, as the operation completed; the consumer
  /// decides. Nothing else is cancelled.
  deliver,
  /// The first operation to complete with an error (a non-zero std::error_code or a non-null
  /// std::exception_ptr as its first argument) ends the stream: the others are cancelled, and once
  /// they have finished, async_next() reports that error as an exception.
  fail_fast,
};

/// What stopping a stream does to the operations still in flight. A stream stops when its owner
/// calls cancel() or destroys it, when a consumer's wait is cancelled, and at the first error under
/// errors::fail_fast.
enum class on_stop {
  /// Each one is sent a terminal cancellation through its handler's cancellation slot (the
  /// default), so the stream ends as soon as they honour it.
  cancel,
  /// They run to their end: no cancellation slot is connected, and the stream ends once they have
  /// finished (the destructor still returns at once). On Asio a connected slot costs some memory
  /// for as long as each operation runs; an owner that never cancels need not pay it. An
  /// operation's own timeout still works, being the operation's own.
  finish,
};

/// A stream's policies: how errors are handed out and what stopping does. Made from either one
/// alone (`errors::fail_fast`, `on_stop::finish`) or both (`errors::fail_fast | on_stop::finish`).
struct policy {
  errors on_error = errors::deliver;                   ///< see errors
  bounded::on_stop on_stop = bounded::on_stop::cancel; ///< see bounded::on_stop

  /// errors::deliver, on_stop::cancel.
  constexpr policy() noexcept = default;
  /// `e`, on_stop::cancel.
  constexpr policy(errors e) noexcept : on_error(e) {}
  /// errors::deliver, `s`.
  constexpr policy(bounded::on_stop s) noexcept : on_stop(s) {}
  /// Both.
  constexpr policy(errors e, bounded::on_stop s) noexcept : on_error(e), on_stop(s) {}
};

/// `errors::fail_fast | on_stop::finish`.
constexpr policy operator|(errors e, on_stop s) noexcept {
  return {e, s};
}
/// `on_stop::finish | errors::fail_fast`.
constexpr policy operator|(on_stop s, errors e) noexcept {
  return {e, s};
}

/// What a stream has done so far, for progress displays: a snapshot that any thread may take.
struct counters {
  std::uint64_t started = 0;      ///< operations started (their initiation returned)
  std::uint64_t completed = 0;    ///< operations that have finished, failed or not
  std::uint64_t failed = 0;       ///< of those, the ones whose first argument was an error, or
                                  ///< whose result could not be built, or that were abandoned
  std::size_t peak_in_flight = 0; ///< the most operations in flight at once
};

/// An asynchronous input: an object `s` with a member type `operation_type` (the operations it
/// yields, not yet started) and a member `s.async_next(handler)` that completes, once, with
/// `void(std::exception_ptr, std::optional<operation_type>)`: the next operation, or `std::nullopt`
/// at its end, or an error. The stream asks for one operation at a time, only when a place is
/// free, so a slow consumer holds the producer back. It runs the handler's associated executor
/// and honours its cancellation slot, as Asio's operations do.
template <class Source>
concept async_source = requires {
  typename std::remove_cvref_t<Source>::operation_type;
}
&&!std::ranges::input_range<Source>;

/// The completion signature of an input element. Specialise it for operation types of your own;
/// it is defined for asio::awaitable<T> (as `void(std::exception_ptr, T)`) and for Asio's deferred
/// operations (their own signature).
template <class Operation, class = void> struct operation_signature {};

} // namespace bounded

#include <bounded/detail/any_handler.hpp>
#include <bounded/detail/executor_ref.hpp>
#include <bounded/detail/traits.hpp>

namespace bounded {

/// @cond DETAIL
namespace detail {
template <class Executor, class Range, class Signature, order Order, class Allocator> class state;
template <class Stream, class PerItem, class Handler> class for_each_state;

// What a control handle reaches of a stream's state, whatever its type.
class controllable {
public:
  virtual void control_set_limit(std::size_t limit) = 0;
  virtual void control_cancel() = 0;
  virtual std::size_t limit() const noexcept = 0;
  virtual std::size_t capacity() const noexcept = 0;
  virtual bounded::counters count() const noexcept = 0;
  virtual std::size_t outstanding() const noexcept = 0;
  virtual std::size_t in_flight() const noexcept = 0;

protected:
  ~controllable() = default;
};
} // namespace detail
/// @endcond

/// A handle on a running stream, for whoever does not hold the stream itself: the code around a
/// for_each(), which owns its stream, or a progress display. It changes the limit, cancels, and
/// reads the counters, from any thread, as the stream's members of the same names do; after the
/// stream has ended, it reads the final counters and changes nothing. Copyable; it keeps the
/// stream's state (not its operations) alive.
class control {
public:
  /// Changes the limit, from 1 to capacity(); throws std::invalid_argument otherwise.
  void set_limit(std::size_t limit) {
    if (limit == 0 || limit > capacity())
      throw std::invalid_argument("bounded: set_limit takes 1 to capacity()");
    state_->control_set_limit(limit);
  }
  /// Stops the stream, as stream::cancel() does.
  void cancel() { state_->control_cancel(); }
  /// The limit now.
  std::size_t limit() const noexcept { return state_->limit(); }
  /// The limit given at construction.
  std::size_t capacity() const noexcept { return state_->capacity(); }
  /// What the stream has done so far.
  bounded::counters counters() const noexcept { return state_->count(); }
  /// Operations started and not yet consumed.
  std::size_t outstanding() const noexcept { return state_->outstanding(); }
  /// Operations started and not yet finished.
  std::size_t in_flight() const noexcept { return state_->in_flight(); }

private:
  template <class, class, class, order, class> friend class stream;
  explicit control(std::shared_ptr<detail::controllable> s) noexcept : state_(std::move(s)) {}
  std::shared_ptr<detail::controllable> state_;
};

/// A running, bounded sequence of operations, read with async_next(). Move-only.
///
/// At most `limit` operations are started and not yet consumed at any time: those in flight plus
/// those finished and not yet handed out. An operation is taken from the input only when one of
/// the `limit` places frees, which is when the consumer takes a result; so a slow consumer holds
/// the stream back rather than letting results pile up. The next operation is started before
/// the result that made room for it is handed out, so the operations keep running while the
/// consumer works.
///
/// All of the stream's work happens on its executor. On an io_context run by several threads,
/// give it a strand, and call its members from that strand.
///
/// @tparam Executor the executor the stream and its operations' handlers run on
/// @tparam Range the input: an input range of operations not yet started
/// @tparam Signature the operations' completion signature
/// @tparam Order completion order or input order
/// @tparam Allocator for the stream's own memory, allocated once
template <class Executor, class Range, class Signature, order Order,
          class Allocator = std::allocator<void>>
class stream {
  using state_type = detail::state<Executor, Range, Signature, Order, Allocator>;

public:
  /// What one operation completed with: its single argument, or a tuple of its arguments.
  using value_type = typename state_type::value_type;
  /// The signature async_next() completes with.
  using result_signature = void(std::exception_ptr, std::optional<value_type>);

  /// Takes the input; nothing starts until the first async_next(). Throws
  /// std::invalid_argument if `limit` is 0.
  stream(const Executor& executor, Range range, std::size_t limit, policy policy = {},
         const Allocator& allocator = {})
      : state_(std::allocate_shared<state_type>(allocator, executor, std::move(range),
                                                checked(limit), policy, allocator)) {}

  /// Takes over the other stream's operations; the moved-from stream may only be destroyed or
  /// assigned to.
  stream(stream&&) noexcept = default;
  /// Releases this stream's operations as the destructor does, then takes over the other's.
  stream& operator=(stream&& other) noexcept {
    if (this != &other) {
      release();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  /// Not copyable: a stream owns the operations it has started.
  stream(const stream&) = delete;
  /// Not copyable.
  stream& operator=(const stream&) = delete;

  /// Cancels the operations still in flight (unless on_stop::finish) and lets them finish in the
  /// background; they touch nothing but the state they share. A consumer still waiting completes
  /// with asio::error::operation_aborted, posted to its executor: never inside the destructor. To
  /// wait for the operations instead, call cancel() and read on to the end of the stream. May be
  /// called on any thread: the work is done on the stream's executor (at once when called there).
  ~stream() { release(); }

  /// Waits for the next result.
  ///
  /// Completes with `(nullptr, value)` for a result; `(nullptr, std::nullopt)` at the end;
  /// `(error, std::nullopt)` when the stream fails: the input threw, an operation could not be
  /// started, the first error under errors::fail_fast, or the consumer was cancelled (an
  /// std::system_error with asio::error::operation_aborted). A failure is reported only once the
  /// operations in flight have finished; after it comes the end.
  ///
  /// Cancelling the wait, through the completion handler's cancellation slot from any thread, is
  /// honoured as Asio documents each type. Terminal cancellation (a coroutine's, by default)
  /// cancels every operation in flight (or, under on_stop::finish, starts no more) and ends the
  /// stream: the wait completes with operation_aborted once they have finished, and reading on
  /// then ends quietly. Partial or total cancellation (a timeout beside the wait, say) ends the
  /// wait alone, with operation_aborted and no effect on the stream: nothing was taken from it,
  /// and the next async_next() reads on. A cancellation that arrives after the wait has completed
  /// changes nothing. One async_next() at a time.
  ///
  /// Never completes inside the call: an answer that is there is posted to the handler's
  /// associated executor. A consumer that waits on the stream's executor is answered in place as
  /// its result comes (what a dispatch would do); on another executor, by a dispatch there.
  template <class CompletionToken> auto async_next(CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, result_signature>(
        [](auto handler, std::shared_ptr<state_type> s) {
          // The slot is the caller's: set it up here, in the caller's context, before anything
          // can emit on it. What it holds only posts to the stream's executor.
          std::uint64_t wait = 0;
          auto slot = asio::get_associated_cancellation_slot(handler);
          if (slot.is_connected()) {
            wait = s->next_wait();
            slot.template emplace<typename state_type::wait_cancellation>(s, wait);
          }
          if (detail::running_in_this_thread(s->executor())) // what dispatch would do, for less
            return s->wait(std::move(handler), wait);
          auto executor = s->executor();
          asio::dispatch(executor, [s = std::move(s), h = std::move(handler), wait]() mutable {
            s->wait(std::move(h), wait);
          });
        },
        token, state_);
  }

  /// Stops taking input and cancels what runs (under on_stop::finish, lets it finish); results not
  /// yet handed out are dropped. Reading on then reports a failure that had already happened, if
  /// any, and ends (with `std::nullopt`) once every operation has finished. May be called on any
  /// thread: the work is done on the stream's executor (at once when called there); a waiting
  /// consumer is resumed by a post.
  void cancel() {
    if (state_) asio::dispatch(state_->executor(), [s = state_] { s->cancel(); });
  }

  /// The limit now: the capacity, unless set_limit() has lowered it.
  std::size_t limit() const noexcept { return state_->limit(); }
  /// The limit given at construction: the places the stream allocated, and the most that
  /// set_limit() accepts.
  std::size_t capacity() const noexcept { return state_->capacity(); }

  /// Changes the limit to `limit`, from 1 to capacity(); throws std::invalid_argument otherwise.
  /// Raising it starts what now fits at once. Lowering it cancels nothing: no operation is started
  /// until fewer than `limit` are outstanding. So outstanding() never exceeds capacity(), and
  /// never exceeds the current limit except by operations that were already outstanding when it
  /// was lowered. May be called on any thread; it takes effect on the stream's executor.
  void set_limit(std::size_t limit) {
    if (limit == 0 || limit > capacity())
      throw std::invalid_argument("bounded: set_limit takes 1 to capacity()");
    asio::dispatch(state_->executor(), [s = state_, limit] { s->set_limit(limit); });
  }

  /// What the stream has done so far: started, completed, failed, the peak in flight. Cheap, and
  /// safe to call on any thread (each figure is exact on the stream's executor, and at most a
  /// little behind elsewhere).
  bounded::counters counters() const noexcept { return state_->count(); }
  /// Operations started and not yet consumed: in flight, or finished and waiting to be read.
  std::size_t outstanding() const noexcept { return state_->outstanding(); }
  /// Operations started and not yet finished.
  std::size_t in_flight() const noexcept { return state_->in_flight(); }
  /// The executor.
  const Executor& get_executor() const noexcept { return state_->executor(); }
  /// A handle that reaches this stream from anywhere, after it has been moved into for_each().
  bounded::control control() const { return bounded::control(state_); }

private:
  template <class, class, class> friend class detail::for_each_state;

  static std::size_t checked(std::size_t limit) {
    if (limit == 0) throw std::invalid_argument("bounded: limit must be at least 1");
    if (limit > UINT32_MAX) throw std::invalid_argument("bounded: limit must be below 2^32");
    return limit;
  }

  void release() {
    if (auto s = std::move(state_)) {
      auto executor = s->executor();
      asio::dispatch(executor, [s = std::move(s)] { s->detach(); });
    }
  }

  std::shared_ptr<state_type> state_;
};

/// @cond DETAIL
namespace detail {
template <class Executor>
concept stream_executor =
    asio::is_executor<Executor>::value || asio::execution::is_executor<Executor>::value;

template <class Signature, class Source> struct source_signature { using type = Signature; };
template <class Source> struct source_signature<deduce, Source> {
  using type = typename operation_signature<typename Source::operation_type>::type;
};
} // namespace detail
/// @endcond

/// Runs the operations of `ops` with at most `limit` started and not yet consumed, and hands out
/// their results in the order they complete.
///
/// @param executor where the stream runs (a strand, if the io_context has several threads)
/// @param ops a lazy input range of operations not yet started: asio::awaitable<T> values,
///            Asio deferred operations, or any callable that starts an operation when called
///            with a completion handler (then name its Signature explicitly)
/// @param limit the most operations started and not yet consumed; at least 1
/// @param policy whether an error is handed out with its result or ends the stream (errors), and
///               whether stopping cancels the operations in flight or lets them finish (on_stop)
/// @param allocator for the stream's memory, allocated once
template <class Signature = detail::deduce, detail::stream_executor Executor,
          std::ranges::input_range Ops, class Allocator = std::allocator<void>>
auto as_completed(const Executor& executor, Ops&& ops, std::size_t limit, policy policy = {},
                  const Allocator& allocator = {}) {
  using range = std::views::all_t<Ops>;
  using signature = typename detail::signature_for<Signature, range>::type;
  return stream<Executor, range, signature, order::completion, Allocator>(
      executor, std::views::all(std::forward<Ops>(ops)), limit, policy, allocator);
}

/// Like as_completed(), but hands out the results in the order of the input. A result that
/// completes early waits for those before it; the limit still bounds them all.
template <class Signature = detail::deduce, detail::stream_executor Executor,
          std::ranges::input_range Ops, class Allocator = std::allocator<void>>
auto in_order(const Executor& executor, Ops&& ops, std::size_t limit, policy policy = {},
              const Allocator& allocator = {}) {
  using range = std::views::all_t<Ops>;
  using signature = typename detail::signature_for<Signature, range>::type;
  return stream<Executor, range, signature, order::input, Allocator>(
      executor, std::views::all(std::forward<Ops>(ops)), limit, policy, allocator);
}

/// Like as_completed(), with an asynchronous input: the stream asks `source` for its next
/// operation only when a place is free, one request at a time, so the producer goes no faster
/// than the consumer. The source is moved into the stream; pass a channel_source (or a source of
/// your own holding a reference) to share one.
template <class Signature = detail::deduce, detail::stream_executor Executor, async_source Source,
          class Allocator = std::allocator<void>>
auto as_completed(const Executor& executor, Source source, std::size_t limit, policy policy = {},
                  const Allocator& allocator = {}) {
  using signature = typename detail::source_signature<Signature, Source>::type;
  return stream<Executor, Source, signature, order::completion, Allocator>(
      executor, std::move(source), limit, policy, allocator);
}

/// Like in_order(), with an asynchronous input (see as_completed()).
template <class Signature = detail::deduce, detail::stream_executor Executor, async_source Source,
          class Allocator = std::allocator<void>>
auto in_order(const Executor& executor, Source source, std::size_t limit, policy policy = {},
              const Allocator& allocator = {}) {
  using signature = typename detail::source_signature<Signature, Source>::type;
  return stream<Executor, Source, signature, order::input, Allocator>(executor, std::move(source),
                                                                      limit, policy, allocator);
}

/// An async_source that receives operations from an Asio channel of signature
/// `void(std::error_code, Operation)`, which it refers to (the channel must outlive the stream).
/// The channel closing is the end of the input; any other error fails the stream.
template <class Channel, class Operation> class channel_source {
public:
  /// What the channel carries.
  using operation_type = Operation;

  /// Refers to `channel`.
  explicit channel_source(Channel& channel) noexcept : channel_(&channel) {}

  /// Receives one operation, and completes with it, or the end, or an error.
  template <class Handler> void async_next(Handler handler) {
    auto executor = asio::get_associated_executor(handler, channel_->get_executor());
    auto slot = asio::get_associated_cancellation_slot(handler);
    channel_->async_receive(asio::bind_cancellation_slot(
        slot, asio::bind_executor(
                  executor, [h = std::move(handler)](std::error_code ec, Operation op) mutable {
                    if (!ec)
                      std::move(h)(nullptr, std::optional<Operation>(std::move(op)));
                    else if (ec == asio::experimental::error::channel_closed)
                      std::move(h)(nullptr, std::optional<Operation>());
                    else
                      std::move(h)(std::make_exception_ptr(std::system_error(ec)),
                                   std::optional<Operation>());
                  })));
  }

private:
  Channel* channel_;
};

/// @cond DETAIL
namespace detail {
template <class Channel> struct channel_operation;
template <template <class, class, class...> class Basic, class Executor, class Traits,
          class Operation>
struct channel_operation<Basic<Executor, Traits, void(std::error_code, Operation)>> {
  using type = Operation;
};
} // namespace detail
/// @endcond

/// `bounded::channel_source(channel)`: the operation type is the channel's.
template <class Channel>
channel_source(Channel&)
    -> channel_source<Channel, typename detail::channel_operation<Channel>::type>;

/// Reads `results` to its end, calling `per_item(value)` on the stream's executor for each result
/// as it is taken, and completes `token` with `void(std::exception_ptr)` only once every operation
/// the stream started has finished: the stream is owned here, so nothing can outlive it. The
/// stream's policy applies (errors, on_stop), and its allocator; `results.control()`, taken
/// before, changes its limit and reads its counters while it runs.
///
/// If `per_item` throws, nothing more is started, the stream is stopped (what runs is cancelled,
/// unless on_stop::finish), results not yet passed on are dropped, and `token` completes with
/// that exception once nothing runs. A failure of the stream (the input threw; the first error
/// under errors::fail_fast) completes it the same way. Cancelling through the token's slot, from
/// any thread: terminal cancellation stops the stream likewise; partial cancellation starts
/// nothing more and passes on the results of what runs; total cancellation is not supported.
/// Either completes with asio::error::operation_aborted.
///
/// @param results a stream, as made by as_completed() or in_order(), not yet read
/// @param per_item called with each result, in the stream's order, on its executor
/// @param token the completion token, for `void(std::exception_ptr)`
template <class Executor, class Range, class Signature, order Order, class Allocator, class PerItem,
          class CompletionToken>
auto for_each(stream<Executor, Range, Signature, Order, Allocator> results, PerItem per_item,
              CompletionToken&& token) {
  using stream_type = stream<Executor, Range, Signature, Order, Allocator>;
  return asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
      [](auto handler, stream_type results, PerItem per_item) {
        using state_type = detail::for_each_state<stream_type, PerItem, decltype(handler)>;
        std::make_shared<state_type>(std::move(results), std::move(per_item), std::move(handler))
            ->start();
      },
      token, std::move(results), std::move(per_item));
}

/// `for_each(as_completed(executor, ops, limit, policy), per_item, token)`: the operations of
/// `ops`, a lazy input range or an async_source, with at most `limit` in flight.
template <class Signature = detail::deduce, detail::stream_executor Executor, class Ops,
          class PerItem, class CompletionToken>
requires(std::ranges::input_range<Ops> ||
         async_source<Ops>) auto for_each(const Executor& executor, Ops&& ops, std::size_t limit,
                                          policy policy, PerItem per_item,
                                          CompletionToken&& token) {
  return bounded::for_each(as_completed<Signature>(executor, std::forward<Ops>(ops), limit, policy),
                           std::move(per_item), std::forward<CompletionToken>(token));
}

/// `for_each(as_completed(executor, ops, limit), per_item, token)`.
template <class Signature = detail::deduce, detail::stream_executor Executor, class Ops,
          class PerItem, class CompletionToken>
requires(std::ranges::input_range<Ops> ||
         async_source<Ops>) auto for_each(const Executor& executor, Ops&& ops, std::size_t limit,
                                          PerItem per_item, CompletionToken&& token) {
  return bounded::for_each(as_completed<Signature>(executor, std::forward<Ops>(ops), limit),
                           std::move(per_item), std::forward<CompletionToken>(token));
}

// ================================================================================================
// How it works
//
// Everything above is the interface; the algorithm is below, in one class, detail::state, which
// the stream and every operation it started share. Its steps, and who calls them:
//
//   async_next() -> wait()      a consumer asks. fill() first; if a result (or the end) is there,
//                               it is posted to the consumer; else the consumer is stored in
//                               waiter_ (one at a time). for_each() instead installs a sink_,
//                               which drain() hands every result to, with no wait per result.
//   fill() -> start()           pulls operations from the input while one more fits under the
//                               limit, and starts each in a free place (slots_). From an
//                               asynchronous source it asks one operation at a time; pulled()
//                               takes the answer.
//   start() -> run_in_worker()  an awaitable operation goes to its place's worker (below); any
//                               other is initiated with an operation_handler that knows its place
//                               and its ticket.
//   worker -> reported(),       an operation completed, on the stream's executor: complete()
//   operation_handler ->        stores its value in its place (or, once stopping, drops it), and
//     complete()                deliver() hands out what the consumer waits for.
//   deliver() -> take()         takes the next result, refills its place *before* handing the
//                               result out (so the operations keep running while the consumer
//                               works), and resumes the consumer.
//   stop()                      no more input; emits cancellation on every busy place. A failure
//                               is kept in error_ and handed out once nothing runs.
//   cancel(), detach(),         the owner stops the stream or goes away; a consumer's
//     cancel_wait(), abandon()  cancellation; an operation whose handler was destroyed uncalled.
//   settle()                    the end of every step: once nothing runs, the waiting workers end.
//
// The workers. Each place has at most one, a coroutine of the stream's own (work()), spawned the
// first time its place runs an awaitable operation and then kept: it awaits the operation in
// place, so an operation costs no co_spawn, stores the result in its place, and waits for its next
// operation in an asynchronous wait of its own (park()) whose initiation reports the result. So
// when the report refills the place, the refill resumes this very worker, at once, before the
// result is handed out. A worker holds work on the executor (its co_spawn does), so once nothing
// runs the waiting workers are ended (settle()): a stream whose consumer has stopped reading does
// not keep run() from returning. Under on_stop::cancel a place's cancellation signal is its
// worker's, for as long as the worker lives.
//
// When the consumer is answered at once. A consumer that already waits when its result comes, on
// the stream's own executor, is called in place (what a dispatch would do, without one); on
// another executor its answer is dispatched there. A consumer that asks while an answer is there
// is always answered by a post, never inside async_next(). So a hand-out cannot recurse without
// bound: the consumer it calls can only ask again, and that answer, if any is there, is posted.
// cancel(), set_limit() and the destructor post theirs too. for_each()'s sink is called in place,
// and a sink that reaches back into the stream (cancel, set_limit) does not nest: drain() is
// under way and goes on.
//
// The places: in completion order, free_ holds the empty ones and ready_ is a ring of the
// finished ones, in the order they finished. In input order, operation k always uses place
// k % capacity, and results are handed out by sequence number (delivered_ < started_), so an
// early finisher waits in its place for those before it; the limit bounds them all.
//
// Threads: everything runs on the stream's executor, except what may come from anywhere: a
// consumer's cancellation (posted here), an operation's handler destroyed uncalled (posted here,
// or done in place while the executor shuts down), and the counters (relaxed atomics).
// ================================================================================================

/// @cond DETAIL
namespace detail {

// A place's worker, for awaitable operations: whether it lives and, while it waits for its next
// operation, the handler that resumes it, in a list of the waiting ones. Other operations are
// started with a handler of their own, and their places have none.
template <class Operation> struct worker_of {};
template <class T, class E> struct worker_of<asio::awaitable<T, E>> {
  using handler = typename asio::async_result<asio::use_awaitable_t<E>,
                                              void(asio::awaitable<T, E>)>::handler_type;
  std::optional<handler> parked;
  std::uint32_t prev = 0, next = 0; // in the list of parked workers
  bool alive = false;
};

// Everything the stream shares with the operations it has started. It lives until the stream and
// the last of those operations are gone, so an operation that completes after the stream was
// destroyed finds it still there. All of it is touched only on the stream's executor, with three
// exceptions that may come from any thread and are marked: a consumer's cancellation, which is
// posted to the executor; an operation's handler destroyed without being called, likewise; and
// the atomic counters those two read.
//
// Re-entrancy: an operation may complete inside its own initiation, and inside the emission of a
// cancellation signal. `depth_` counts the steps under way that may cause that (fill() and
// stop()); a completion that arrives inside one only records its result, and the step's caller
// hands out what is ready once the step is over. The consumer is never completed inside a call
// it made (async_next, cancel, the destructor): those post its completion.
template <class Executor, class Range, class Signature, order Order, class Allocator>
class state final
    : public std::enable_shared_from_this<state<Executor, Range, Signature, Order, Allocator>>,
      public controllable {
public:
  using value_type = typename value_of<Signature>::type;
  using result_signature = void(std::exception_ptr, std::optional<value_type>);
  using operation_type = typename input_traits<Range>::operation_type;
  static constexpr bool asynchronous_input = input_traits<Range>::asynchronous;

  state(const Executor& executor, Range range, std::size_t limit, policy policy,
        const Allocator& allocator)
      : executor_(executor), range_(std::move(range)), next_(begin(range_)), policy_(policy),
        limit_(limit), slots_(limit, slot_allocator(allocator)),
        cancels_(policy.on_stop == on_stop::cancel ? limit : 0, signal_allocator(allocator)),
        free_(slot_index_allocator(allocator)), ready_(slot_index_allocator(allocator)) {
    if constexpr (Order == order::completion) {
      free_.reserve(limit);
      ready_.resize(limit);
      for (std::size_t i = limit; i-- > 0;)
        free_.push_back(static_cast<std::uint32_t>(i));
    }
  }

  const Executor& executor() const noexcept { return executor_; }
  std::size_t capacity() const noexcept override { return slots_.size(); }
  std::size_t limit() const noexcept override { return limit_; }
  counters count() const noexcept override { return counters_.snapshot(); }
  void control_set_limit(std::size_t limit) override {
    asio::dispatch(executor_, [s = this->shared_from_this(), limit] { s->set_limit(limit); });
  }
  void control_cancel() override {
    asio::dispatch(executor_, [s = this->shared_from_this()] { s->cancel(); });
  }

  // A new limit, from 1 to the capacity. Raising it starts what now fits; lowering it cancels
  // nothing and only holds refills back until the outstanding operations are fewer.
  void set_limit(std::size_t limit) {
    limit_ = limit;
    if (!begun_) return; // nothing starts before the first async_next()
    fill();
    deliver(how::post);
    settle();
  }
  std::size_t outstanding() const noexcept override { return in_flight_ + finished_; }
  std::size_t in_flight() const noexcept override { return in_flight_; }

  // A number for the next wait whose cancellation may come from another thread. Any thread.
  std::uint64_t next_wait() noexcept { return waits_.fetch_add(1, std::memory_order_relaxed) + 1; }

  // What a consumer's cancellation slot holds while it waits, and after: it may be emitted from
  // any thread, so it only posts to the executor, where cancel_wait() ignores a wait that is over.
  class wait_cancellation {
  public:
    wait_cancellation(std::weak_ptr<state> s, std::uint64_t wait) noexcept
        : state_(std::move(s)), wait_(wait) {}
    void operator()(asio::cancellation_type type) {
      if (auto s = state_.lock()) {
        auto executor = s->executor();
        asio::post(executor,
                   [s = std::move(s), wait = wait_, type] { s->cancel_wait(wait, type); });
      }
    }

  private:
    std::weak_ptr<state> state_;
    std::uint64_t wait_;
  };

  // A consumer asks for the next result. `wait` is its number if it can be cancelled, else 0.
  template <class Handler> void wait(Handler&& handler, std::uint64_t wait) {
    if (waiter_ || sink_) {
      post_completion(std::forward<Handler>(handler),
                      std::make_exception_ptr(
                          std::logic_error("bounded: async_next called while another is pending")),
                      std::nullopt);
      return;
    }
    begun_ = true;
    fill();
    if (deliverable() || finished()) { // an answer now: never complete inside the initiation
      auto [error, value] = take();
      post_completion(std::forward<Handler>(handler), error, std::move(value));
      settle();
      return;
    }
    wait_ = wait;
    if constexpr (std::is_same_v<asio::associated_executor_t<Handler, Executor>, Executor>) {
      if (asio::get_associated_executor(handler, executor_) == executor_) {
        // The consumer waits on the stream's executor, where everything here runs: a dispatch
        // would run it at once, so it is called; and the operations it waits for keep the
        // executor's work (a consumer waits only while one runs), so it needs no guard of its own.
        waiter_.emplace([h = std::forward<Handler>(handler), this](
                            bool defer, std::exception_ptr e, std::optional<value_type> v) mutable {
          if (defer)
            asio::post(executor_, [h = std::move(h), e, v = std::move(v)]() mutable {
              std::move(h)(e, std::move(v));
            });
          else
            std::move(h)(e, std::move(v));
        });
        settle();
        return;
      }
    }
    auto work = asio::make_work_guard(asio::get_associated_executor(handler, executor_));
    waiter_.emplace([h = std::forward<Handler>(handler), work = std::move(work)](
                        bool defer, std::exception_ptr e, std::optional<value_type> v) mutable {
      auto ex = work.get_executor();
      auto resume = [h = std::move(h), e, v = std::move(v)]() mutable {
        std::move(h)(e, std::move(v));
      };
      if (defer)
        asio::post(ex, std::move(resume));
      else
        asio::dispatch(ex, std::move(resume));
      work.reset();
    });
    settle();
  }

  // The owner asks to stop: nothing more is started, what runs is cancelled, results are dropped.
  void cancel() {
    discard_results();
    stop(nullptr);
    deliver(how::post);
    settle();
  }

  // The owner is gone.
  void detach() {
    cancel();
    if (waiter_)
      complete_waiter(how::post,
                      std::make_exception_ptr(std::system_error(asio::error::operation_aborted)));
  }

  // The operation started in `index` as `ticket` has completed; `emplace` builds its value.
  template <class Emplace>
  void complete(std::uint32_t index, std::uint32_t ticket, Emplace emplace) {
    auto& s = slots_[index];
    if (!s.busy || s.ticket != ticket) return; // its initiation threw, and the place was freed
    --in_flight_;
    s.busy = false;
    clear_cancellation(index);
    atomic_counters::add(counters_.completed);
    if (starting_.load(std::memory_order_relaxed) == ticket) outcome_ = outcome::completed;
    if (stopping_) {
      s.reset(); // a worker's result is in its place already
      release(index);
    } else {
      try {
        emplace(s);
      } catch (...) { // converting the arguments to value_type threw: the stream fails
        atomic_counters::add(counters_.failed);
        release(index);
        stop(std::current_exception());
        if (depth_ == 0) deliver(how::dispatch);
        return;
      }
      bool error = failed<Signature>(s.result());
      if (error) atomic_counters::add(counters_.failed);
      if (auto e = error && policy_.on_error == errors::fail_fast ? error_in<Signature>(s.result())
                                                                  : nullptr) {
        s.reset();
        release(index);
        stop(e);
      } else {
        ++finished_;
        if constexpr (Order == order::completion) push_ready(index);
      }
    }
    if (depth_ > 0) return;
    deliver(how::dispatch);
  }

  // An operation's handler was destroyed without being called: its initiation threw, or its
  // execution context was destroyed. Any thread. Inside the initiation, start() reports it; else
  // it is taken to the executor, and if that is shutting down too, done where it is.
  static void abandoned(state* s, std::uint32_t index, std::uint32_t ticket) {
    if (s->starting_.load(std::memory_order_relaxed) == ticket) {
      s->free_place(index);
      s->outcome_ = outcome::dropped;
      s->handler_gone(); // start()'s caller holds the state
      return;
    }
    // keep_ changes only when no handler lives, and this one does: a copy is safe on any thread.
    s->post_or_do([hold = s->keep_, index, ticket](bool running) {
      hold->abandon(index, ticket, running);
      hold->handler_gone();
    });
  }

  // The handlers of the operations in flight share one reference to the state, keep_, held while
  // any of them lives; so a handler carries a plain pointer, and each co_spawn frame 16 bytes less
  // than a std::shared_ptr and the rest would take. On the executor.
  // And the outstanding work on the executor, for all of them (an executor_ref counts none), so
  // that its run() does not return while an operation the stream started is away.
  void handler_made() {
    if (handlers_++ > 0) return;
    keep_ = this->shared_from_this();
    work_.emplace(held_work_of<Executor>::make(executor_));
  }
  void handler_gone() {
    if (--handlers_ > 0) return;
    work_.reset();
    keep_.reset(); // the caller holds another reference
  }

  class operation_handler;

private:
  // A place: the result of its operation once that has finished, the operation's ticket, and
  // whether it runs. The result is kept as std::optional would keep it, but with its flag beside
  // `busy`, so a place is the value and eight bytes (80 for stage 04's response, not 88).
  struct slot {
    slot() noexcept {}
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    ~slot() { reset(); }

    bool has_result() const noexcept { return has_result_; }
    value_type& result() noexcept { return *std::launder(reinterpret_cast<value_type*>(storage_)); }
    template <class... A> void emplace(A&&... args) {
      reset();
      ::new (static_cast<void*>(storage_)) value_type(std::forward<A>(args)...);
      has_result_ = true;
    }
    void reset() noexcept {
      if (!std::exchange(has_result_, false)) return;
      result().~value_type();
    }
    std::optional<value_type> take_result() {
      std::optional<value_type> value(std::move(result()));
      reset();
      return value;
    }

    alignas(value_type) unsigned char storage_[sizeof(value_type)];
    std::uint32_t ticket = 0; // which start this place's operation is (see tickets_)
    bool busy = false;
    bool has_result_ = false;
    [[no_unique_address]] worker_of<operation_type> worker; // awaitable operations only
  };
  using slot_allocator = typename std::allocator_traits<Allocator>::template rebind_alloc<slot>;
  using signal_allocator =
      typename std::allocator_traits<Allocator>::template rebind_alloc<asio::cancellation_signal>;
  using slot_index_allocator =
      typename std::allocator_traits<Allocator>::template rebind_alloc<std::uint32_t>;

  enum class how { dispatch, post };                  // how the consumer is resumed
  enum class outcome { running, completed, dropped }; // of the operation being started

  // Posted to the executor when a handler of the stream's was destroyed without being called.
  // Run, it calls `f(true)`; destroyed unrun, the executor is shutting down, and it calls
  // `f(false)` where it is.
  template <class F> class posted_or_destroyed {
  public:
    explicit posted_or_destroyed(F f) : f_(std::move(f)) {}
    posted_or_destroyed(posted_or_destroyed&& other) noexcept
        : f_(std::move(other.f_)), armed_(std::exchange(other.armed_, false)) {}
    posted_or_destroyed& operator=(posted_or_destroyed&&) = delete;
    ~posted_or_destroyed() {
      if (armed_) f_(false);
    }
    void operator()() {
      armed_ = false;
      auto f = std::move(f_);
      f(true);
    }

  private:
    F f_;
    bool armed_ = true;
  };

  template <class F> void post_or_do(F f) {
    try {
      asio::post(executor_, posted_or_destroyed<F>(std::move(f)));
    } catch (...) { // no memory to post with: the unposted wrapper's destructor has already
    }               // done it in place, as at shutdown (a destructor can do no more)
  }

  void abandon(std::uint32_t index, std::uint32_t ticket, bool running) {
    auto& s = slots_[index];
    if (!s.busy || s.ticket != ticket) return;
    free_place(index);
    atomic_counters::add(counters_.completed);
    atomic_counters::add(counters_.failed);
    if (!running) return shut_down();
    stop(std::make_exception_ptr(std::system_error(asio::error::operation_aborted)));
    deliver(how::dispatch);
    settle();
  }

  // The executor is shutting down: nothing will run and nothing can be resumed. Once nothing is
  // in flight, the waiting consumer is destroyed (as Asio destroys handlers at shutdown), which
  // breaks the cycle of a coroutine consumer that owns the stream that owns it.
  void shut_down() {
    stopping_ = input_done_ = true;
    if (!error_)
      error_ = std::make_exception_ptr(std::system_error(asio::error::operation_aborted));
    if constexpr (is_awaitable<operation_type>::value)
      while (parked_ != no_place) // destroyed, not resumed: nothing runs now
        unpark(parked_).reset();
    if (in_flight_ == 0 && !pulling_) {
      waiter_.reset();
      sink_ = nullptr;
    }
  }

  // A consumer's cancellation, on the executor: it counts only if that consumer still waits.
  // Terminal cancellation ends the stream, as the wait's documentation says; partial or total
  // cancellation ends the wait alone, with no effect on the stream (nothing was taken from it).
  void cancel_wait(std::uint64_t wait, asio::cancellation_type type) {
    if (!waiter_ || wait_ != wait) return;
    if ((type & (asio::cancellation_type::partial | asio::cancellation_type::total)) !=
        asio::cancellation_type::none) { // this wait alone ends; the stream runs on
      complete_waiter(how::dispatch,
                      std::make_exception_ptr(std::system_error(asio::error::operation_aborted)));
      return;
    }
    stop(std::make_exception_ptr(std::system_error(asio::error::operation_aborted)));
    deliver(how::dispatch);
    settle();
  }

  // Whether the next result to hand out is there: any finished one, or, in input order, the
  // oldest one started.
  bool deliverable() const noexcept {
    if constexpr (Order == order::completion)
      return finished_ > 0;
    else
      return delivered_ < started_ && slots_[delivered_ % capacity()].has_result();
  }

  bool finished() const noexcept {
    return input_done_ && in_flight_ == 0 && !pulling_ && !pending_ && !deliverable();
  }

  // Whether one more operation fits under the limit (and so in a place: limit <= capacity).
  bool has_free_slot() const noexcept {
    if constexpr (Order == order::completion)
      return in_flight_ + finished_ < limit_;
    else
      return started_ - delivered_ < limit_;
  }

  // Starts operations from the input while there is room under the limit: from a range, at once;
  // from an asynchronous source, one request at a time, each completing in pulled().
  void fill() {
    ++depth_;
    if constexpr (asynchronous_input) {
      while (!stopping_ && has_free_slot()) {
        if (pending_) { // pulled, here (the source answered inside its initiation) or before
          start_pending();
          continue;
        }
        if (pulling_ || input_done_) break;
        pulling_ = true;
        try {
          range_.async_next(pull_handler(this->shared_from_this()));
        } catch (...) {
          pulling_ = false;
          stop(std::current_exception());
        }
      }
    } else {
      while (!input_done_ && !stopping_ && has_free_slot()) {
        try {
          if (next_ == std::ranges::end(range_)) {
            input_done_ = true;
            break;
          }
          auto operation = std::ranges::iter_move(next_);
          ++next_;
          start(std::move(operation));
        } catch (...) {
          stop(std::current_exception());
        }
      }
    }
    --depth_;
  }

  // The source has answered. Inside fill() (the source answered inside its initiation) the loop
  // there goes on; else this is a step of its own.
  void pulled(std::exception_ptr error, std::optional<operation_type> operation) {
    pulling_ = false;
    if (emitting_)
      clear_after_emitting_ = true;
    else
      pull_cancel_.slot().clear();
    if (error)
      stop(error);
    else if (!operation)
      input_done_ = true;
    else if (!stopping_)
      pending_.emplace(std::move(*operation)); // it waits for room if the limit was lowered
    if (depth_ > 0) return;
    fill();
    deliver(how::dispatch);
    settle();
  }

  void start_pending() {
    auto operation = std::move(*pending_);
    pending_.reset();
    try {
      start(std::move(operation));
    } catch (...) {
      stop(std::current_exception());
    }
  }

  void start(operation_type operation) {
    std::uint32_t index;
    if constexpr (Order == order::completion) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = static_cast<std::uint32_t>(started_ % capacity());
    }
    auto& s = slots_[index];
    if (++tickets_ == 0) ++tickets_; // 0 means none
    auto ticket = tickets_;
    ++started_;
    ++in_flight_;
    s.busy = true;
    s.ticket = ticket;
    atomic_counters::add(counters_.started);
    if (in_flight_ > counters_.peak_in_flight.load(std::memory_order_relaxed))
      counters_.peak_in_flight.store(in_flight_, std::memory_order_relaxed);
    starting_.store(ticket, std::memory_order_relaxed);
    try {
      if constexpr (is_awaitable<operation_type>::value)
        run_in_worker(index, std::move(operation));
      else
        std::move(operation)(operation_handler(this, index, ticket));
      starting_.store(0, std::memory_order_relaxed);
      if (std::exchange(outcome_, outcome::running) == outcome::dropped)
        throw std::system_error(asio::error::operation_aborted,
                                "bounded: an operation dropped its completion handler");
    } catch (...) {
      starting_.store(0, std::memory_order_relaxed);
      if (std::exchange(outcome_, outcome::running) != outcome::completed) {
        if (s.busy && s.ticket == ticket) free_place(index); // its handler lives on: ignored
        --started_;
        atomic_counters::add(counters_.started, std::uint64_t(-1));
      } // else it completed before its initiation threw: its result stands
      throw;
    }
  }

  // ----- The workers: awaitable operations -----------------------------------------------------

  static constexpr std::uint32_t no_place = UINT32_MAX;

  // Whether an operation in place `i` can be reached by cancellation: a coroutine whose worker
  // has gone (its frames destroyed at shutdown) cannot.
  bool runs(std::size_t i) const noexcept {
    if constexpr (is_awaitable<operation_type>::value)
      return slots_[i].worker.alive;
    else
      return true;
  }

  // Hands an awaitable operation to its place's worker: the waiting one is resumed with it, here
  // (it awaits the operation up to its first suspension and returns); a place with none gets one.
  void run_in_worker(std::uint32_t index, operation_type operation) {
    auto& w = slots_[index].worker;
    if (w.parked) {
      std::move (*unpark(index))(std::move(operation));
      return;
    }
    w.alive = true;
    handler_made(); // a worker holds the state, and the executor's work, as a handler does
    try {
      if (cancels_.empty())
        asio::co_spawn(executor_, work(this, index, std::move(operation)), worker_done(this));
      else
        asio::co_spawn(executor_, work(this, index, std::move(operation)),
                       asio::bind_cancellation_slot(cancels_[index].slot(), worker_done(this)));
    } catch (...) {
      if (w.alive) {
        w.alive = false;
        handler_gone();
      }
      throw;
    }
  }

  // A worker ends without an error of its own; one that escaped it is the consumer's, answered in
  // place, and goes out of run() as from any handler.
  // It names the stream's executor as an operation's handler does (co_spawn keeps a copy of that
  // in the worker's frame for as long as it lives).
  class worker_done {
  public:
    using executor_type =
        std::conditional_t<names_executor_ref<Executor>, executor_ref<Executor>, Executor>;
    explicit worker_done(state* s) noexcept : state_(s) {}
    executor_type get_executor() const noexcept { return executor_type(state_->executor()); }
    void operator()(std::exception_ptr e) const {
      if (e) std::rethrow_exception(e);
    }

  private:
    state* state_;
  };

  // The worker of place `index`: it awaits its operation in place, stores the result in the
  // place, reports it, and waits for the next one; given none, it ends. It reports from inside its
  // wait's initiation, when it is already suspended: so the refill that the report may cause can
  // resume this very worker, at once and not through a post, before the result is handed out.
  // Its frame holds little more than the operation: the result goes straight into the place.
  template <class Op = operation_type>
  static asio::awaitable<void, typename awaitable_parts<Op>::executor>
  work(state* s, std::uint32_t index, Op operation) {
    using T = typename awaitable_parts<Op>::value;
    using E = typename awaitable_parts<Op>::executor;
    struct ended { // destroyed with the frame: at its end, or at shutdown with an operation away
      state* s;
      std::uint32_t index;
      std::uint32_t ticket = 0; // the operation running, or 0
      ~ended() { s->worker_ended(index, ticket); }
    } self{s, index};
    do {
      self.ticket = s->slots_[index].ticket;
      try {
        if constexpr (std::is_void_v<T>) {
          co_await std::move(operation);
          s->store(index, nullptr);
        } else {
          s->store(index, nullptr, co_await std::move(operation));
        }
      } catch (...) { // the operation's own exception: store() throws none
        if constexpr (std::is_void_v<T>)
          s->store(index, std::current_exception());
        else
          s->store(index, std::current_exception(), T());
      }
      self.ticket = 0;
      // Cancelled, this coroutine can await nothing more (Asio throws at the next co_await): it
      // reports, and ends. Only the stream cancels it, once it stops, so no operation follows.
      if (!s->cancels_.empty()) {
        auto cancellation = co_await asio::this_coro::cancellation_state;
        if (cancellation.cancelled() != asio::cancellation_type::none) {
          s->reported(index);
          co_return;
        }
      }
      operation = co_await asio::async_initiate<const asio::use_awaitable_t<E>&, void(Op)>(
          [&self](auto resume) {
            self.s->park(self.index, std::move(resume));
            self.s->reported(self.index);
          },
          asio::use_awaitable_t<E>());
    } while (operation.valid());
  }

  // A worker's result goes into its place as co_spawn would complete it: (nullptr, value), or
  // (exception, T()). Building it may throw: the place then stays empty, and complete() fails the
  // stream with that exception, as for any operation.
  template <class... A>
  void store(std::uint32_t index, std::exception_ptr error, A&&... value) noexcept {
    try {
      slots_[index].emplace(std::move(error), std::forward<A>(value)...);
    } catch (...) {
      build_error_ = std::current_exception();
    }
  }

  // A worker's operation has finished and its result is in its place; the worker waits, or ends.
  // Whatever the consumer does when answered here, the state outlives this call.
  void reported(std::uint32_t index) {
    auto hold = keep_;
    try {
      complete(index, slots_[index].ticket, [this](slot&) {
        if (auto e = std::exchange(build_error_, nullptr)) std::rethrow_exception(e);
      });
    } catch (...) { // the consumer's handler threw: let it out of run(), as it would have been
      auto e = std::current_exception();
      asio::post(executor_, [e] { std::rethrow_exception(e); });
    }
    settle();
  }

  // The list of waiting workers, through their places.
  template <class Handler> void park(std::uint32_t index, Handler resume) {
    auto& w = slots_[index].worker;
    w.parked.emplace(std::move(resume));
    w.prev = no_place;
    w.next = parked_;
    if (parked_ != no_place) slots_[parked_].worker.prev = index;
    parked_ = index;
  }
  auto unpark(std::uint32_t index) {
    auto& w = slots_[index].worker;
    (w.prev != no_place ? slots_[w.prev].worker.next : parked_) = w.next;
    if (w.next != no_place) slots_[w.next].worker.prev = w.prev;
    auto resume = std::move(w.parked);
    w.parked.reset();
    return resume;
  }

  // At the end of every step: once nothing runs, the waiting workers end, since each holds work
  // on the executor (its co_spawn does), and a stream whose consumer has stopped reading must not
  // keep run() from returning. Inside a step (depth_) a refill may still come.
  void settle() {
    if constexpr (is_awaitable<operation_type>::value)
      if (depth_ == 0 && in_flight_ == 0)
        while (parked_ != no_place)
          std::move (*unpark(parked_))(operation_type()); // an empty one: it ends
  }

  // A worker's frame is destroyed: at its end, or with an operation away when the executor shuts
  // down, which is then abandoned as an operation's handler destroyed uncalled would be.
  void worker_ended(std::uint32_t index, std::uint32_t ticket) noexcept {
    slots_[index].worker.alive = false;
    if (ticket != 0) return abandoned(this, index, ticket);
    auto hold = keep_;
    handler_gone();
  }

  // Frees the place of an operation that will not complete.
  void free_place(std::uint32_t index) {
    --in_flight_;
    slots_[index].busy = false;
    clear_cancellation(index);
    release(index);
  }

  // Its operation is over: a later one in this place must not get its cancellation handler.
  // Inside an emission the handler may be the caller: stop() clears it afterwards.
  void clear_cancellation(std::uint32_t index) {
    if (cancels_.empty()) return; // on_stop::finish: no operation has a slot
    if constexpr (is_awaitable<operation_type>::value) return; // the worker's, while it lives
    if (emitting_)
      clear_after_emitting_ = true;
    else
      cancels_[index].slot().clear();
  }

  // Frees a slot whose result, if any, will not be handed out.
  void release(std::uint32_t index) {
    if (slots_[index].has_result()) {
      slots_[index].reset();
      --finished_;
    }
    if constexpr (Order == order::completion) free_.push_back(index);
  }

  void push_ready(std::uint32_t index) {
    ready_[(ready_head_ + ready_size_++) % capacity()] = index;
  }

  // Drops every finished result not handed out yet.
  void discard_results() {
    if constexpr (Order == order::completion) {
      while (ready_size_ > 0)
        release(pop_ready());
    } else { // they may wait behind one still running
      for (std::size_t i = 0; i < capacity(); ++i)
        if (!slots_[i].busy) release(static_cast<std::uint32_t>(i));
    }
  }

  std::uint32_t pop_ready() {
    if constexpr (Order == order::completion) {
      auto index = ready_[ready_head_];
      ready_head_ = (ready_head_ + 1) % capacity();
      --ready_size_;
      return index;
    } else {
      return static_cast<std::uint32_t>(delivered_ % capacity());
    }
  }

  // Takes the next answer for the consumer: a result (refilling its slot before it is handed
  // out), else the stream's error once nothing runs, or the end.
  std::pair<std::exception_ptr, std::optional<value_type>> take() {
    if (deliverable()) {
      auto index = pop_ready();
      std::optional<value_type> value = slots_[index].take_result();
      --finished_;
      if constexpr (Order == order::completion)
        free_.push_back(index);
      else
        ++delivered_;
      fill(); // may stop the stream: the consumer gets this value first, the failure next time
      return {nullptr, std::move(value)};
    }
    discard_results(); // in input order, results behind one that never came
    return {std::exchange(error_, nullptr), std::nullopt};
  }

  // A consumer waits, and there is an answer for it: a result, or the end.
  bool answerable() const noexcept { return waiter_ && (deliverable() || finished()); }

  // Completes the waiting consumer if there is an answer for it; or, for for_each(), hands the
  // sink every answer there is, the end last.
  void deliver(how resume) {
    if (sink_) return drain();
    if (!answerable()) return;
    auto [error, value] = take();
    complete_waiter(resume, error, std::move(value));
  }

public:
  // for_each()'s reading: `sink(error, value)` is called on the executor with each result as it is
  // taken (its place refilled first), and once with (error or nullptr, std::nullopt) at the end;
  // no async_next() per result. A sink that calls back into the stream (cancel, set_limit) does
  // not nest: the loop under way goes on.
  template <class Sink> void read_into(Sink sink) {
    begun_ = true;
    sink_ = std::move(sink);
    fill();
    drain();
    settle();
  }

  // Nothing more is taken from the input; what runs finishes and is handed out as usual.
  void close_input() {
    input_done_ = true;
    pending_.reset();
    if (pulling_) pull_cancel_.emit(asio::cancellation_type::terminal);
    deliver(how::post);
    settle();
  }

private:
  void drain() {
    if (draining_) return;
    draining_ = true;
    struct reset {
      bool& flag;
      ~reset() { flag = false; }
    } guard{draining_};
    while (sink_ && (deliverable() || finished())) {
      auto [error, value] = take();
      if (value) {
        sink_(error, std::move(value));
      } else {
        auto sink = std::move(sink_); // the end: the cycle through the sink's owner breaks
        sink_ = nullptr;
        sink(error, std::nullopt);
      }
    }
  }

  void complete_waiter(how resume, std::exception_ptr error,
                       std::optional<value_type> value = std::nullopt) {
    wait_ = 0;
    waiter_(resume == how::post, error, std::move(value));
  }

  // Ends the stream: no more input; what runs is cancelled. `error`, if any, is handed out once
  // the operations in flight have finished. It hands nothing out itself: its callers do, once
  // they are done with the state.
  void stop(std::exception_ptr error) {
    if (error && !error_ && !stopping_) error_ = error;
    stopping_ = input_done_ = true;
    if (emitting_) return; // stopped again from inside the emission: it reaches every place
    ++depth_;
    emitting_ = true;
    pending_.reset();
    if (pulling_) pull_cancel_.emit(asio::cancellation_type::terminal);
    for (std::size_t i = 0; i < cancels_.size(); ++i)
      if (slots_[i].busy && runs(i)) cancels_[i].emit(asio::cancellation_type::terminal);
    emitting_ = false;
    if (std::exchange(clear_after_emitting_, false)) {
      if constexpr (!is_awaitable<operation_type>::value)
        for (std::size_t i = 0; i < cancels_.size(); ++i)
          if (!slots_[i].busy) cancels_[i].slot().clear();
      if (!pulling_) pull_cancel_.slot().clear();
    }
    --depth_;
  }

  template <class Handler>
  void post_completion(Handler&& handler, std::exception_ptr error,
                       std::optional<value_type> value) {
    auto ex = asio::get_associated_executor(handler, executor_);
    asio::post(ex, [h = std::forward<Handler>(handler), error, v = std::move(value)]() mutable {
      std::move(h)(error, std::move(v));
    });
  }

  // The range's first iterator; for a source, a placeholder.
  static auto begin(Range& range) {
    if constexpr (asynchronous_input)
      return nullptr;
    else
      return std::ranges::begin(range);
  }

  // The handler given to the source: the stream's executor, a cancellation slot of its own.
  // Destroyed without being called, the input has failed.
  class pull_handler {
  public:
    using executor_type = Executor;
    using cancellation_slot_type = asio::cancellation_slot;
    explicit pull_handler(std::shared_ptr<state> s) noexcept : state_(std::move(s)) {}
    pull_handler(pull_handler&& other) noexcept = default;
    pull_handler& operator=(pull_handler&&) = delete;
    ~pull_handler() {
      if (!state_) return;
      auto& self = *state_;
      self.post_or_do([s = std::move(state_)](bool running) {
        if (!running) {
          s->pulling_ = false;
          return s->shut_down();
        }
        s->pulled(std::make_exception_ptr(std::system_error(
                      asio::error::operation_aborted, "bounded: the source dropped a request")),
                  std::nullopt);
      });
    }
    executor_type get_executor() const noexcept { return state_->executor(); }
    cancellation_slot_type get_cancellation_slot() const noexcept {
      return state_->pull_cancel_.slot();
    }
    void operator()(std::exception_ptr error, std::optional<operation_type> operation) {
      std::exchange(state_, nullptr)->pulled(error, std::move(operation));
    }

  private:
    std::shared_ptr<state> state_;
  };

  Executor executor_;
  Range range_;
  decltype(begin(std::declval<Range&>())) next_;
  policy policy_;
  std::size_t limit_; // at most the capacity, slots_.size()
  std::vector<slot, slot_allocator> slots_;
  // Under on_stop::cancel, each place's cancellation signal; under on_stop::finish, none.
  std::vector<asio::cancellation_signal, signal_allocator> cancels_;
  std::vector<std::uint32_t, slot_index_allocator> free_;  // completion order: empty slots
  std::vector<std::uint32_t, slot_index_allocator> ready_; // completion order: a ring of results
  std::size_t ready_head_ = 0, ready_size_ = 0;
  std::uint64_t started_ = 0, delivered_ = 0; // input order: sequence numbers
  std::size_t in_flight_ = 0;                 // started, not finished
  std::size_t finished_ = 0;                  // finished, result not handed out yet
  bool begun_ = false;                        // the first async_next() has come
  bool input_done_ = false, stopping_ = false;
  bool emitting_ = false, clear_after_emitting_ = false;
  int depth_ = 0; // fill() and stop() calls under way
  // Each start's number, wrapping at 2^32: a place's ticket tells its operation's handler from
  // that of an earlier operation there whose initiation threw but kept its handler, unless that
  // handler is called some 4 billion starts later (and even then no memory is misused).
  std::uint32_t tickets_ = 0;
  std::atomic<std::uint32_t> starting_{0}; // the ticket being started, or 0
  std::uint32_t handlers_ = 0;             // operation handlers alive
  std::shared_ptr<state> keep_;            // their reference to this state, while any lives
  held_work<Executor> work_;               // and their outstanding work, while any lives
  outcome outcome_ = outcome::running;     // what it did inside its initiation
  std::uint32_t parked_ = no_place;        // the first waiting worker's place
  std::atomic<std::uint64_t> waits_{0};    // waits numbered so far
  std::uint64_t wait_ = 0;                 // the waiting consumer's number, if cancellable
  bool pulling_ = false;                   // asynchronous input: a request under way
  std::optional<operation_type> pending_;  // asynchronous input: pulled, waiting for room
  asio::cancellation_signal pull_cancel_;  // asynchronous input: cancels that request
  atomic_counters counters_;
  std::exception_ptr error_;
  std::exception_ptr build_error_; // a worker's result that could not be built, for complete()
  std::function<void(std::exception_ptr, std::optional<value_type>)> sink_; // for_each()'s
  bool draining_ = false;
  any_handler<void(bool, std::exception_ptr, std::optional<value_type>)> waiter_;
};

// The completion handler given to each operation: it carries the stream's executor (so that it
// runs there), a cancellation slot of its own (so that the stream can cancel it), and a share in
// the state (so that the state outlives it).
template <class Executor, class Range, class Signature, order Order, class Allocator>
class state<Executor, Range, Signature, Order, Allocator>::operation_handler {
public:
  using executor_type =
      std::conditional_t<names_executor_ref<Executor>, executor_ref<Executor>, Executor>;
  using cancellation_slot_type = asio::cancellation_slot;

  operation_handler(state* s, std::uint32_t index, std::uint32_t ticket) noexcept
      : state_(s), index_(index), ticket_(ticket) {
    s->handler_made();
  }
  operation_handler(operation_handler&& other) noexcept
      : state_(std::exchange(other.state_, nullptr)), index_(other.index_), ticket_(other.ticket_) {
  }
  operation_handler& operator=(operation_handler&&) = delete;
  ~operation_handler() {
    if (state_) state::abandoned(state_, index_, ticket_);
  }

  executor_type get_executor() const noexcept { return executor_type(state_->executor()); }
  cancellation_slot_type get_cancellation_slot() const noexcept {
    if (state_->cancels_.empty()) return {}; // on_stop::finish
    return state_->cancels_[index_].slot();
  }

  template <class... Args> void operator()(Args&&... args) {
    auto* s = std::exchange(state_, nullptr);
    auto hold = s->keep_; // whatever the consumer does when answered, the state outlives this call
    struct gone {
      state* s;
      ~gone() { s->handler_gone(); }
    } guard{s};
    s->complete(index_, ticket_, [&](auto& place) {
      if constexpr (sizeof...(Args) == 1)
        place.emplace(std::forward<Args>(args)...);
      else
        place.emplace(std::decay_t<Args>(std::forward<Args>(args))...);
    });
  }

private:
  state* state_; // shares keep_ with the other handlers
  std::uint32_t index_;
  std::uint32_t ticket_;
};

// The state of one for_each(): the stream, the function, the caller's handler. It reads the
// stream to its end, whatever happens, so it completes only once every operation it started has
// finished. It reads through the state's sink: no async_next() per result.
template <class Stream, class PerItem, class Handler>
class for_each_state
    : public std::enable_shared_from_this<for_each_state<Stream, PerItem, Handler>> {
public:
  for_each_state(Stream stream, PerItem per_item, Handler handler)
      : stream_(std::move(stream)), per_item_(std::move(per_item)), handler_(std::move(handler)),
        work_(asio::make_work_guard(
            asio::get_associated_executor(handler_, stream_.get_executor()))) {}

  // In the caller's context: the caller's cancellation slot is set up here, before anything can
  // emit on it; what it holds only posts to the stream's executor.
  void start() {
    auto slot = asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected())
      slot.assign([weak = this->weak_from_this(),
                   executor = stream_.get_executor()](asio::cancellation_type type) {
        if (auto self = weak.lock())
          asio::post(executor, [self = std::move(self), type] { self->cancelled(type); });
      });
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      auto state = self->stream_.state_; // it outlives the reading, whatever per_item does
      state->read_into([self](std::exception_ptr e, std::optional<value_type> v) {
        self->read(e, std::move(v));
      });
    });
  }

private:
  using value_type = typename Stream::value_type;
  using executor_type = std::remove_cvref_t<decltype(std::declval<const Stream&>().get_executor())>;

  static std::exception_ptr aborted() {
    return std::make_exception_ptr(std::system_error(asio::error::operation_aborted));
  }

  // Asio's cancellation types: terminal stops the stream (what runs is cancelled, unless the
  // stream's policy is on_stop::finish); partial starts nothing more and lets what runs finish,
  // its results still passed on; total, which would have to undo what has run, is not supported
  // and changes nothing. Either way the completion then reports operation_aborted.
  void cancelled(asio::cancellation_type type) {
    if ((type & asio::cancellation_type::terminal) != asio::cancellation_type::none) {
      stop(aborted());
    } else if ((type & asio::cancellation_type::partial) != asio::cancellation_type::none) {
      closed_ = true; // the results still come; the completion reports the cancellation
      stream_.state_->close_input();
    }
  }

  void read(std::exception_ptr e, std::optional<value_type> v) {
    if (v) {
      if (!error_) try {
          per_item_(std::move(*v));
        } catch (...) {
          stop(std::current_exception());
        }
      return;
    }
    if (e && !error_) error_ = e; // a failure comes once nothing runs: this is the end
    if (closed_ && !error_) error_ = aborted();
    auto ex = work_.get_executor();
    asio::dispatch(ex, [h = std::move(handler_), e = error_]() mutable { std::move(h)(e); });
    work_.reset();
  }

  void stop(std::exception_ptr e) {
    if (!error_) error_ = e;
    stream_.state_->cancel(); // on this executor: at once. Reading on ends once nothing runs.
  }

  Stream stream_;
  PerItem per_item_;
  Handler handler_;
  asio::executor_work_guard<typename asio::associated_executor<Handler, executor_type>::type> work_;
  std::exception_ptr error_;
  bool closed_ = false; // by partial cancellation
};

} // namespace detail
/// @endcond

} // namespace bounded
