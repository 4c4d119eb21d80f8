// bounded::as_completed and bounded::in_order: run a lazy sequence of asynchronous operations with
// at most `limit` of them started and not yet consumed, and read their results as they complete
// (or in input order). Header-only, for standalone Asio 1.22 or later and C++20.
//
// Copyright the hundred-million-requests authors. Distributed under the Boost Software License,
// Version 1.0.
#pragma once

#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/execution/executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/is_executor.hpp>
#include <asio/post.hpp>
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

/// The completion signature of an input element. Specialise it for operation types of your own;
/// it is defined for asio::awaitable<T> (as `void(std::exception_ptr, T)`) and for Asio's deferred
/// operations (their own signature).
template <class Operation, class = void> struct operation_signature {};

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

template <class Signature, class Value> std::exception_ptr error_in(const Value& value) {
  using first = typename first_argument<Signature>::type;
  if constexpr (std::is_same_v<first, std::exception_ptr> ||
                std::is_same_v<first, std::error_code>) {
    const first* argument;
    if constexpr (std::is_same_v<Value, first>)
      argument = &value;
    else
      argument = &std::get<0>(value);
    if constexpr (std::is_same_v<first, std::exception_ptr>)
      return *argument;
    else
      return *argument ? std::make_exception_ptr(std::system_error(*argument)) : nullptr;
  } else {
    return nullptr;
  }
}

template <class T> struct is_awaitable : std::false_type {};
template <class T, class E> struct is_awaitable<asio::awaitable<T, E>> : std::true_type {};

// A completion handler stored without knowing its type: in place when it fits, which it does for
// asio::use_awaitable and small callbacks, else in memory from its associated allocator.
template <class Signature> class any_handler;

template <class... Args> class any_handler<void(Args...)> {
public:
  any_handler() = default;
  any_handler(const any_handler&) = delete;
  any_handler& operator=(const any_handler&) = delete;
  ~any_handler() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  template <class Handler> void emplace(Handler&& handler) {
    using H = std::decay_t<Handler>;
    reset();
    if constexpr (sizeof(H) <= sizeof(storage_) && alignof(H) <= alignof(std::max_align_t)) {
      target_ = new (storage_) H(std::forward<Handler>(handler));
    } else {
      auto alloc = asio::get_associated_allocator(handler);
      using A = typename std::allocator_traits<decltype(alloc)>::template rebind_alloc<H>;
      A a(alloc);
      H* p = std::allocator_traits<A>::allocate(a, 1);
      try {
        ::new (static_cast<void*>(p)) H(std::forward<Handler>(handler));
      } catch (...) {
        std::allocator_traits<A>::deallocate(a, p, 1);
        throw;
      }
      target_ = p;
    }
    static constexpr table t{&invoke_and_free<H>, &free<H>};
    ops_ = &t;
  }

  // Invokes the handler; it is destroyed (and its memory freed) first, as Asio requires.
  void operator()(Args... args) {
    auto* ops = std::exchange(ops_, nullptr);
    ops->invoke_and_free(target_, storage_, std::forward<Args>(args)...);
  }

  void reset() noexcept {
    if (auto* ops = std::exchange(ops_, nullptr)) ops->free(target_, storage_);
  }

private:
  struct table {
    void (*invoke_and_free)(void*, unsigned char*, Args...);
    void (*free)(void*, unsigned char*) noexcept;
  };

  template <class H> static void release(H* h, unsigned char* storage) noexcept {
    if (static_cast<void*>(h) == static_cast<void*>(storage)) {
      h->~H();
    } else {
      auto alloc = asio::get_associated_allocator(*h);
      using A = typename std::allocator_traits<decltype(alloc)>::template rebind_alloc<H>;
      A a(alloc);
      h->~H();
      std::allocator_traits<A>::deallocate(a, h, 1);
    }
  }

  template <class H> static void invoke_and_free(void* p, unsigned char* storage, Args... args) {
    auto* h = static_cast<H*>(p);
    H local(std::move(*h));
    release(h, storage);
    std::move(local)(std::forward<Args>(args)...);
  }

  template <class H> static void free(void* p, unsigned char* storage) noexcept {
    release(static_cast<H*>(p), storage);
  }

  alignas(std::max_align_t) unsigned char storage_[128];
  void* target_ = nullptr;
  const table* ops_ = nullptr;
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
class state
    : public std::enable_shared_from_this<state<Executor, Range, Signature, Order, Allocator>> {
public:
  using value_type = typename value_of<Signature>::type;
  using result_signature = void(std::exception_ptr, std::optional<value_type>);
  using operation_type = std::ranges::range_value_t<Range>;

  state(const Executor& executor, Range range, std::size_t limit, errors policy,
        const Allocator& allocator)
      : executor_(executor), range_(std::move(range)), next_(std::ranges::begin(range_)),
        policy_(policy), slots_(limit, slot_allocator(allocator)),
        free_(slot_index_allocator(allocator)), ready_(slot_index_allocator(allocator)) {
    if constexpr (Order == order::completion) {
      free_.reserve(limit);
      ready_.resize(limit);
      for (std::size_t i = limit; i-- > 0;)
        free_.push_back(static_cast<std::uint32_t>(i));
    }
  }

  const Executor& executor() const noexcept { return executor_; }
  std::size_t limit() const noexcept { return slots_.size(); }
  std::size_t outstanding() const noexcept { return in_flight_ + finished_; }
  std::size_t in_flight() const noexcept { return in_flight_; }

  // A number for the next wait whose cancellation may come from another thread. Any thread.
  std::uint64_t next_wait() noexcept { return waits_.fetch_add(1, std::memory_order_relaxed) + 1; }

  // What a consumer's cancellation slot holds while it waits, and after: it may be emitted from
  // any thread, so it only posts to the executor, where cancel_wait() ignores a wait that is over.
  class wait_cancellation {
  public:
    wait_cancellation(std::weak_ptr<state> s, std::uint64_t wait) noexcept
        : state_(std::move(s)), wait_(wait) {}
    void operator()(asio::cancellation_type) {
      if (auto s = state_.lock()) {
        auto executor = s->executor();
        asio::post(executor, [s = std::move(s), wait = wait_] { s->cancel_wait(wait); });
      }
    }

  private:
    std::weak_ptr<state> state_;
    std::uint64_t wait_;
  };

  // A consumer asks for the next result. `wait` is its number if it can be cancelled, else 0.
  template <class Handler> void wait(Handler&& handler, std::uint64_t wait) {
    if (waiter_) {
      post_completion(std::forward<Handler>(handler),
                      std::make_exception_ptr(
                          std::logic_error("bounded: async_next called while another is pending")),
                      std::nullopt);
      return;
    }
    fill();
    if (deliverable() || finished()) { // an answer now: never complete inside the initiation
      auto [error, value] = take();
      post_completion(std::forward<Handler>(handler), error, std::move(value));
      return;
    }
    wait_ = wait;
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
  }

  // The owner asks to stop: nothing more is started, what runs is cancelled, results are dropped.
  void cancel() {
    discard_results();
    stop(nullptr);
    deliver(how::post);
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
  void complete(std::uint32_t index, std::uint64_t ticket, Emplace emplace) {
    auto& s = slots_[index];
    if (!s.busy || s.ticket != ticket) return; // its initiation threw, and the place was freed
    --in_flight_;
    s.busy = false;
    clear_cancellation(s);
    if (starting_.load(std::memory_order_relaxed) == ticket) outcome_ = outcome::completed;
    if (stopping_) {
      release(index);
    } else {
      try {
        emplace(s.result);
      } catch (...) { // converting the arguments to value_type threw: the stream fails
        release(index);
        stop(std::current_exception());
        if (depth_ == 0) deliver(how::dispatch);
        return;
      }
      if (auto e = policy_ == errors::fail_fast ? error_in<Signature>(*s.result) : nullptr) {
        s.result.reset();
        release(index);
        stop(e);
      } else {
        ++finished_;
        if constexpr (Order == order::completion) push_ready(index);
      }
    }
    if (depth_ == 0) deliver(how::dispatch);
  }

  // An operation's handler was destroyed without being called: its initiation threw, or its
  // execution context was destroyed. Any thread. Inside the initiation, start() reports it; else
  // it is taken to the executor, and if that is shutting down too, done where it is.
  static void abandoned(std::shared_ptr<state> s, std::uint32_t index, std::uint64_t ticket) {
    if (s->starting_.load(std::memory_order_relaxed) == ticket) {
      s->free_place(index);
      s->outcome_ = outcome::dropped;
      return;
    }
    auto executor = s->executor();
    try {
      asio::post(executor, abandonment(std::move(s), index, ticket));
    } catch (...) { // no memory to post with: a destructor can only go on
      if (s) s->abandon(index, ticket, false);
    }
  }

  class operation_handler;

private:
  struct slot {
    std::optional<value_type> result;
    asio::cancellation_signal cancel;
    std::uint64_t ticket = 0; // which start this place's operation is
    bool busy = false;
  };
  using slot_allocator = typename std::allocator_traits<Allocator>::template rebind_alloc<slot>;
  using slot_index_allocator =
      typename std::allocator_traits<Allocator>::template rebind_alloc<std::uint32_t>;

  enum class how { dispatch, post };                  // how the consumer is resumed
  enum class outcome { running, completed, dropped }; // of the operation being started

  // Posted by abandoned(). Run, it abandons the place; destroyed unrun, the executor is shutting
  // down, and it abandons the place where it is.
  class abandonment {
  public:
    abandonment(std::shared_ptr<state> s, std::uint32_t index, std::uint64_t ticket) noexcept
        : state_(std::move(s)), index_(index), ticket_(ticket) {}
    abandonment(abandonment&& other) noexcept = default;
    abandonment& operator=(abandonment&&) = delete;
    ~abandonment() {
      if (state_) state_->abandon(index_, ticket_, false);
    }
    void operator()() { std::exchange(state_, nullptr)->abandon(index_, ticket_, true); }

  private:
    std::shared_ptr<state> state_;
    std::uint32_t index_;
    std::uint64_t ticket_;
  };

  void abandon(std::uint32_t index, std::uint64_t ticket, bool running) {
    auto& s = slots_[index];
    if (!s.busy || s.ticket != ticket) return;
    free_place(index);
    auto aborted = std::make_exception_ptr(std::system_error(asio::error::operation_aborted));
    if (!running) { // the executor is shutting down: nothing will run, nothing can be resumed
      stopping_ = input_done_ = true;
      if (!error_) error_ = aborted;
      if (in_flight_ == 0) waiter_.reset();
      return;
    }
    stop(aborted);
    deliver(how::dispatch);
  }

  // A consumer's cancellation, on the executor: it counts only if that consumer still waits.
  void cancel_wait(std::uint64_t wait) {
    if (!waiter_ || wait_ != wait) return;
    stop(std::make_exception_ptr(std::system_error(asio::error::operation_aborted)));
    deliver(how::dispatch);
  }

  // Whether the next result to hand out is there: any finished one, or, in input order, the
  // oldest one started.
  bool deliverable() const noexcept {
    if constexpr (Order == order::completion)
      return finished_ > 0;
    else
      return delivered_ < started_ && slots_[delivered_ % limit()].result.has_value();
  }

  bool finished() const noexcept { return input_done_ && in_flight_ == 0 && !deliverable(); }

  bool has_free_slot() const noexcept {
    if constexpr (Order == order::completion)
      return !free_.empty();
    else
      return started_ - delivered_ < limit();
  }

  // Starts operations from the input while there is room under the limit.
  void fill() {
    ++depth_;
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
    --depth_;
  }

  void start(operation_type operation) {
    std::uint32_t index;
    if constexpr (Order == order::completion) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = static_cast<std::uint32_t>(started_ % limit());
    }
    auto& s = slots_[index];
    auto ticket = ++tickets_;
    ++started_;
    ++in_flight_;
    s.busy = true;
    s.ticket = ticket;
    starting_.store(ticket, std::memory_order_relaxed);
    try {
      if constexpr (is_awaitable<operation_type>::value)
        asio::co_spawn(executor_, std::move(operation),
                       operation_handler(this->shared_from_this(), index, ticket));
      else
        std::move(operation)(operation_handler(this->shared_from_this(), index, ticket));
      starting_.store(0, std::memory_order_relaxed);
      if (std::exchange(outcome_, outcome::running) == outcome::dropped)
        throw std::system_error(asio::error::operation_aborted,
                                "bounded: an operation dropped its completion handler");
    } catch (...) {
      starting_.store(0, std::memory_order_relaxed);
      if (std::exchange(outcome_, outcome::running) != outcome::completed) {
        if (s.busy && s.ticket == ticket) free_place(index); // its handler lives on: ignored
        --started_;
      } // else it completed before its initiation threw: its result stands
      throw;
    }
  }

  // Frees the place of an operation that will not complete.
  void free_place(std::uint32_t index) {
    --in_flight_;
    slots_[index].busy = false;
    clear_cancellation(slots_[index]);
    release(index);
  }

  // Its operation is over: a later one in this place must not get its cancellation handler.
  // Inside an emission the handler may be the caller: stop() clears it afterwards.
  void clear_cancellation(slot& s) {
    if (emitting_)
      clear_after_emitting_ = true;
    else
      s.cancel.slot().clear();
  }

  // Frees a slot whose result, if any, will not be handed out.
  void release(std::uint32_t index) {
    if (slots_[index].result) {
      slots_[index].result.reset();
      --finished_;
    }
    if constexpr (Order == order::completion) free_.push_back(index);
  }

  void push_ready(std::uint32_t index) { ready_[(ready_head_ + ready_size_++) % limit()] = index; }

  // Drops every finished result not handed out yet.
  void discard_results() {
    if constexpr (Order == order::completion) {
      while (ready_size_ > 0)
        release(pop_ready());
    } else { // they may wait behind one still running
      for (std::size_t i = 0; i < limit(); ++i)
        if (!slots_[i].busy) release(static_cast<std::uint32_t>(i));
    }
  }

  std::uint32_t pop_ready() {
    if constexpr (Order == order::completion) {
      auto index = ready_[ready_head_];
      ready_head_ = (ready_head_ + 1) % limit();
      --ready_size_;
      return index;
    } else {
      return static_cast<std::uint32_t>(delivered_ % limit());
    }
  }

  // Takes the next answer for the consumer: a result (refilling its slot before it is handed
  // out), else the stream's error once nothing runs, or the end.
  std::pair<std::exception_ptr, std::optional<value_type>> take() {
    if (deliverable()) {
      auto index = pop_ready();
      std::optional<value_type> value = std::move(slots_[index].result);
      slots_[index].result.reset();
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

  // Completes the waiting consumer if there is an answer for it.
  void deliver(how resume) {
    if (!waiter_ || (!deliverable() && !finished())) return;
    auto [error, value] = take();
    complete_waiter(resume, error, std::move(value));
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
    for (auto& s : slots_)
      if (s.busy) s.cancel.emit(asio::cancellation_type::terminal);
    emitting_ = false;
    if (std::exchange(clear_after_emitting_, false))
      for (auto& s : slots_)
        if (!s.busy) s.cancel.slot().clear();
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

  Executor executor_;
  Range range_;
  std::ranges::iterator_t<Range> next_;
  errors policy_;
  std::vector<slot, slot_allocator> slots_;
  std::vector<std::uint32_t, slot_index_allocator> free_;  // completion order: empty slots
  std::vector<std::uint32_t, slot_index_allocator> ready_; // completion order: a ring of results
  std::size_t ready_head_ = 0, ready_size_ = 0;
  std::uint64_t started_ = 0, delivered_ = 0; // input order: sequence numbers
  std::size_t in_flight_ = 0;                 // started, not finished
  std::size_t finished_ = 0;                  // finished, result not handed out yet
  bool input_done_ = false, stopping_ = false;
  bool emitting_ = false, clear_after_emitting_ = false;
  int depth_ = 0;                          // fill() and stop() calls under way
  std::uint64_t tickets_ = 0;              // starts so far: each operation's own number
  std::atomic<std::uint64_t> starting_{0}; // the ticket being started, or 0
  outcome outcome_ = outcome::running;     // what it did inside its initiation
  std::atomic<std::uint64_t> waits_{0};    // waits numbered so far
  std::uint64_t wait_ = 0;                 // the waiting consumer's number, if cancellable
  std::exception_ptr error_;
  any_handler<void(bool, std::exception_ptr, std::optional<value_type>)> waiter_;
};

// The completion handler given to each operation: it carries the stream's executor (so that it
// runs there), a cancellation slot of its own (so that the stream can cancel it), and a share in
// the state (so that the state outlives it).
template <class Executor, class Range, class Signature, order Order, class Allocator>
class state<Executor, Range, Signature, Order, Allocator>::operation_handler {
public:
  using executor_type = Executor;
  using cancellation_slot_type = asio::cancellation_slot;

  operation_handler(std::shared_ptr<state> s, std::uint32_t index, std::uint64_t ticket) noexcept
      : state_(std::move(s)), index_(index), ticket_(ticket) {}
  operation_handler(operation_handler&& other) noexcept
      : state_(std::move(other.state_)), index_(other.index_), ticket_(other.ticket_) {}
  operation_handler& operator=(operation_handler&&) = delete;
  ~operation_handler() {
    if (state_) state::abandoned(std::move(state_), index_, ticket_);
  }

  executor_type get_executor() const noexcept { return state_->executor(); }
  cancellation_slot_type get_cancellation_slot() const noexcept {
    return state_->slots_[index_].cancel.slot();
  }

  template <class... Args> void operator()(Args&&... args) {
    auto s = std::move(state_);
    s->complete(index_, ticket_, [&](std::optional<value_type>& result) {
      if constexpr (sizeof...(Args) == 1)
        result.emplace(std::forward<Args>(args)...);
      else
        result.emplace(std::decay_t<Args>(std::forward<Args>(args))...);
    });
  }

private:
  std::shared_ptr<state> state_;
  std::uint32_t index_;
  std::uint64_t ticket_;
};

template <class Signature, class Range> struct signature_for { using type = Signature; };
struct deduce;
template <class Range> struct signature_for<deduce, Range> {
  using type = typename operation_signature<std::ranges::range_value_t<Range>>::type;
};

} // namespace detail
/// @endcond

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
  stream(const Executor& executor, Range range, std::size_t limit, errors policy = errors::deliver,
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

  /// Cancels the operations still in flight and lets them finish in the background; they touch
  /// nothing but the state they share. A consumer still waiting completes with
  /// asio::error::operation_aborted, posted to its executor: never inside the destructor. To wait
  /// for the operations instead, call cancel() and read on to the end of the stream. May be called
  /// on any thread: the work is done on the stream's executor (at once when called there).
  ~stream() { release(); }

  /// Waits for the next result.
  ///
  /// Completes with `(nullptr, value)` for a result; `(nullptr, std::nullopt)` at the end;
  /// `(error, std::nullopt)` when the stream fails: the input threw, an operation could not be
  /// started, the first error under errors::fail_fast, or the consumer was cancelled (an
  /// std::system_error with asio::error::operation_aborted). A failure is reported only once the
  /// operations in flight have finished; after it comes the end.
  ///
  /// Cancelling the wait (through the completion handler's cancellation slot, any type, from any
  /// thread) cancels every operation in flight and ends the stream: the wait completes with
  /// operation_aborted once they have finished, and reading on then ends quietly. A cancellation
  /// that arrives after the wait has completed changes nothing. One async_next() at a time.
  ///
  /// Never completes inside the call: the answer is posted to, or dispatched on, the handler's
  /// associated executor from the stream's executor.
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
          auto executor = s->executor();
          asio::dispatch(executor, [s = std::move(s), h = std::move(handler), wait]() mutable {
            s->wait(std::move(h), wait);
          });
        },
        token, state_);
  }

  /// Stops taking input and cancels what runs; results not yet handed out are dropped. Reading on
  /// then reports a failure that had already happened, if any, and ends (with `std::nullopt`)
  /// once every operation has finished. May be called on any thread: the work is done on the
  /// stream's executor (at once when called there); a waiting consumer is resumed by a post.
  void cancel() {
    if (state_) asio::dispatch(state_->executor(), [s = state_] { s->cancel(); });
  }

  /// The limit.
  std::size_t limit() const noexcept { return state_->limit(); }
  /// Operations started and not yet consumed: in flight, or finished and waiting to be read.
  std::size_t outstanding() const noexcept { return state_->outstanding(); }
  /// Operations started and not yet finished.
  std::size_t in_flight() const noexcept { return state_->in_flight(); }
  /// The executor.
  const Executor& get_executor() const noexcept { return state_->executor(); }

private:
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

/// Runs the operations of `ops` with at most `limit` started and not yet consumed, and hands out
/// their results in the order they complete.
///
/// @param executor where the stream runs (a strand, if the io_context has several threads)
/// @param ops a lazy input range of operations not yet started: asio::awaitable<T> values,
///            Asio deferred operations, or any callable that starts an operation when called
///            with a completion handler (then name its Signature explicitly)
/// @param limit the most operations started and not yet consumed; at least 1
/// @param policy whether an error is handed out with its result or ends the stream
/// @param allocator for the stream's memory, allocated once
template <class Signature = detail::deduce, class Executor, std::ranges::input_range Ops,
          class Allocator = std::allocator<void>>
requires asio::is_executor<Executor>::value || asio::execution::is_executor<Executor>::value auto
as_completed(const Executor& executor, Ops&& ops, std::size_t limit,
             errors policy = errors::deliver, const Allocator& allocator = {}) {
  using range = std::views::all_t<Ops>;
  using signature = typename detail::signature_for<Signature, range>::type;
  return stream<Executor, range, signature, order::completion, Allocator>(
      executor, std::views::all(std::forward<Ops>(ops)), limit, policy, allocator);
}

/// Like as_completed(), but hands out the results in the order of the input. A result that
/// completes early waits for those before it; the limit still bounds them all.
template <class Signature = detail::deduce, class Executor, std::ranges::input_range Ops,
          class Allocator = std::allocator<void>>
requires asio::is_executor<Executor>::value || asio::execution::is_executor<Executor>::value auto
in_order(const Executor& executor, Ops&& ops, std::size_t limit, errors policy = errors::deliver,
         const Allocator& allocator = {}) {
  using range = std::views::all_t<Ops>;
  using signature = typename detail::signature_for<Signature, range>::type;
  return stream<Executor, range, signature, order::input, Allocator>(
      executor, std::views::all(std::forward<Ops>(ops)), limit, policy, allocator);
}

} // namespace bounded
