// The sender form of the proposal, on std::execution as stdexec implements it: bounded_for_each
// over a range of senders, and a scope whose association waits for room. Header-only, C++20.
// The declarations first (the paper's synopsis is a listing of them), the definitions after.
#pragma once

#include <stdexec/execution.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace bounded_exec {
namespace ex = stdexec;

// synopsis: begin
// What stopping does to the senders running: request stop on them, or let them finish.
enum class on_stop { cancel, finish };

struct bounded_options {
  bounded_exec::on_stop on_stop = on_stop::cancel;
};

// A limit that its owner may change, from any thread, while a bounded_for_each uses it.
class concurrency_limit {
public:
  explicit concurrency_limit(std::size_t capacity); // the limit starts at capacity; capacity >= 1
  concurrency_limit(std::size_t capacity, std::size_t initial); // 1 <= initial <= capacity
  concurrency_limit(const concurrency_limit&) = delete;
  concurrency_limit& operator=(const concurrency_limit&) = delete;

  std::size_t capacity() const noexcept;
  std::size_t get() const noexcept;
  void set(std::size_t n); // 1 <= n <= capacity(), else invalid_argument; lowering stops nothing

  struct listener; // exposition only: what a running bounded_for_each registers
private:
  friend struct listener;
  void attach(listener* l) noexcept;
  void detach() noexcept;
  std::size_t capacity_;
  std::atomic<std::size_t> value_;
  std::mutex set_mutex_, mutex_;
  std::condition_variable idle_;
  listener* listener_ = nullptr;
  bool notifying_ = false;
  std::thread::id notifier_;
};

// bounded_for_each(senders, limit, fn, options): a sender that connects and starts the senders
// of an input range, pulled one at a time and only when fewer than `limit` of them are started
// and not yet handed to fn; calls fn with each value, one call at a time; and completes once
// every sender it started has completed. Completions: set_value_t(); set_error_t(E) for each
// error E of the items (decayed); set_error_t(exception_ptr); set_stopped_t().
struct bounded_for_each_t {
  template <std::ranges::input_range Rng, class Fn>
  requires ex::sender<std::ranges::range_rvalue_reference_t<Rng>> && std::move_constructible<Fn>
  auto operator()(Rng&& senders, std::size_t limit, Fn fn, bounded_options opts = {}) const;

  template <std::ranges::input_range Rng, class Fn>
  requires ex::sender<std::ranges::range_rvalue_reference_t<Rng>> && std::move_constructible<Fn>
  auto operator()(Rng&& senders, concurrency_limit& limit, Fn fn, bounded_options opts = {}) const;
};
inline constexpr bounded_for_each_t bounded_for_each{};

// A counting scope with a bound: at most limit() associations at once. try_associate() refuses
// when full or closed, as C++26's scopes do; associate() is a sender that waits for room.
class bounded_scope {
public:
  class association; // models ex::scope_association: releases its place when destroyed
  class token;       // models ex::scope_token
  template <class Rcvr> class permit_operation;
  struct permit_sender; // completes with set_value_t(association) or set_stopped_t()
  struct join_sender;   // completes with set_value_t() once no association is held

  explicit bounded_scope(std::size_t limit); // limit >= 1, else invalid_argument
  bounded_scope(bounded_scope&&) = delete;
  ~bounded_scope(); // calls std::terminate if an association or a waiting permit remains

  token get_token() noexcept;
  permit_sender associate() noexcept; // FIFO among waiters; stopped if closed or stop requested
  void close() noexcept;              // refuses from now on; waiting permits complete stopped
  join_sender join() noexcept;

  std::size_t limit() const noexcept;
  std::size_t capacity() const noexcept;
  void
  set_limit(std::size_t n); // 1 <= n <= capacity(); raising grants waiters, lowering stops nothing

private:
  struct waiter;
  association try_associate() noexcept;
  void release() noexcept;
  void grant_locked(waiter*& granted) noexcept;
  mutable std::mutex mutex_;
  std::size_t capacity_, limit_, count_ = 0;
  bool closed_ = false;
  waiter *head_ = nullptr, *tail_ = nullptr, *joiners_ = nullptr;
};

// bounded_spawn(sndr, scope): a sender that waits for room in the scope, then spawns sndr
// associated with it, and completes: set_value_t() once sndr has been started, set_stopped_t()
// if the scope was closed, set_error_t(exception_ptr) if spawning threw. Nothing is dropped.
template <ex::sender Sndr> auto bounded_spawn(Sndr sndr, bounded_scope& scope);
// synopsis: end

// ---------------------------------------------------------------------------------------------
// concurrency_limit

struct concurrency_limit::listener {
  virtual void limit_raised() noexcept = 0;
  static void attach(concurrency_limit& l, listener* who) noexcept { l.attach(who); }
  static void detach(concurrency_limit& l) noexcept { l.detach(); }

protected:
  ~listener() = default;
};

inline concurrency_limit::concurrency_limit(std::size_t capacity)
    : concurrency_limit(capacity, capacity) {}

inline concurrency_limit::concurrency_limit(std::size_t capacity, std::size_t initial)
    : capacity_(capacity), value_(initial) {
  if (capacity == 0 || initial == 0 || initial > capacity)
    throw std::invalid_argument("bounded_exec::concurrency_limit: need 1 <= limit <= capacity");
}

inline std::size_t concurrency_limit::capacity() const noexcept {
  return capacity_;
}

inline std::size_t concurrency_limit::get() const noexcept {
  return value_.load(std::memory_order_acquire);
}

inline void concurrency_limit::set(std::size_t n) {
  if (n == 0 || n > capacity_)
    throw std::invalid_argument("bounded_exec::concurrency_limit::set: need 1 <= n <= capacity");
  std::lock_guard one_at_a_time(set_mutex_);
  std::size_t old = value_.exchange(n, std::memory_order_acq_rel);
  if (n <= old) return; // the running loop reads the limit before each start
  std::unique_lock lock(mutex_);
  listener* l = listener_;
  if (!l) return;
  notifying_ = true;
  notifier_ = std::this_thread::get_id();
  lock.unlock();
  l->limit_raised(); // may finish the operation, which detaches from inside this call
  lock.lock();
  notifying_ = false;
  idle_.notify_all();
}

inline void concurrency_limit::attach(listener* l) noexcept {
  std::lock_guard lock(mutex_);
  listener_ = l;
}

inline void concurrency_limit::detach() noexcept {
  std::unique_lock lock(mutex_);
  listener_ = nullptr;
  // Wait for a set() that is telling this listener, unless it is this thread's.
  idle_.wait(lock, [&] { return !notifying_ || notifier_ == std::this_thread::get_id(); });
}

// ---------------------------------------------------------------------------------------------
// bounded_for_each

namespace detail {

template <class Env>
using item_env_t = ex::env<ex::prop<ex::get_stop_token_t, ex::inplace_stop_token>, Env>;

template <class... Ts> using decayed_tuple = std::tuple<std::decay_t<Ts>...>;

// A std::variant of the distinct types, in order of first appearance.
template <class V, class... Ts> struct unique_variant { using type = V; };
template <class... Vs, class T, class... Ts>
struct unique_variant<std::variant<Vs...>, T, Ts...>
    : unique_variant<std::conditional_t<(std::is_same_v<Vs, T> || ...), std::variant<Vs...>,
                                        std::variant<Vs..., T>>,
                     Ts...> {};

template <class... Es>
using errors_variant =
    typename unique_variant<std::variant<std::exception_ptr>, std::decay_t<Es>...>::type;
template <class... Tuples>
using values_variant = typename unique_variant<std::variant<>, Tuples...>::type;
template <class Item, class Env>
using values_t = ex::value_types_of_t<Item, item_env_t<Env>, decayed_tuple, values_variant>;

template <class Item, class Env>
using errors_t = ex::error_types_of_t<Item, item_env_t<Env>, errors_variant>;

template <class Errors> struct completions_of;
template <class... Es> struct completions_of<std::variant<Es...>> {
  using type =
      ex::completion_signatures<ex::set_value_t(), ex::set_error_t(Es)..., ex::set_stopped_t()>;
};
// What a bounded_for_each over items of type Item completes with, given the receiver's Env.
template <class Item, class Env>
using completions_t = typename completions_of<errors_t<Item, Env>>::type;

template <class Rcvr, class State> struct item_receiver {
  using receiver_concept = ex::receiver_tag;
  State* state;
  std::size_t index;

  template <class... Vs> void set_value(Vs&&... vs) && noexcept {
    state->item_value(index, std::forward<Vs>(vs)...);
  }
  template <class E> void set_error(E&& e) && noexcept {
    state->item_error(index, std::forward<E>(e));
  }
  void set_stopped() && noexcept { state->item_stopped(index); }
  item_env_t<ex::env_of_t<Rcvr>> get_env() const noexcept {
    return {ex::prop{ex::get_stop_token, state->inner_.get_token()}, ex::get_env(state->rcvr_)};
  }
};

inline constexpr std::size_t none = static_cast<std::size_t>(-1);

template <class Rcvr, class View, class Fn>
class for_each_operation final : concurrency_limit::listener {
  using item_t = std::ranges::range_rvalue_reference_t<View>;
  using env_t = ex::env_of_t<Rcvr>;
  using receiver_t = item_receiver<Rcvr, for_each_operation>;
  using child_t = ex::connect_result_t<item_t, receiver_t>;
  using values = values_t<item_t, env_t>;
  using errors = errors_t<item_t, env_t>;
  friend receiver_t;

  // A place: room for one child operation state and its value, built in place when used.
  struct place {
    alignas(child_t) unsigned char child[sizeof(child_t)];
    bool has_child = false;
    std::optional<values> value;
    std::size_t next = none; // the free list, or the queue of completed places
  };

  struct on_outer_stop {
    for_each_operation* self;
    void operator()() const noexcept { self->outer_stop(); }
  };
  using outer_token_t = ex::stop_token_of_t<env_t>;
  using outer_callback_t = ex::stop_callback_for_t<outer_token_t, on_outer_stop>;

  static auto make_allocator(const Rcvr& r) noexcept {
    if constexpr (requires { ex::get_allocator(ex::get_env(r)); })
      return typename std::allocator_traits<std::remove_cvref_t<decltype(ex::get_allocator(
          ex::get_env(r)))>>::template rebind_alloc<place>(ex::get_allocator(ex::get_env(r)));
    else
      return std::allocator<place>();
  }
  using allocator_t = decltype(make_allocator(std::declval<const Rcvr&>()));

public:
  using operation_state_concept = ex::operation_state_tag;

  for_each_operation(Rcvr rcvr, View view, Fn fn, std::size_t limit, concurrency_limit* shared,
                     on_stop policy)
      : rcvr_(std::move(rcvr)), view_(std::move(view)), fn_(std::move(fn)), fixed_limit_(limit),
        shared_(shared), policy_(policy), capacity_(shared ? shared->capacity() : limit),
        alloc_(make_allocator(rcvr_)) {
    places_ = std::allocator_traits<allocator_t>::allocate(alloc_, capacity_);
    for (std::size_t i = 0; i < capacity_; ++i) {
      std::allocator_traits<allocator_t>::construct(alloc_, places_ + i);
      places_[i].next = i + 1 < capacity_ ? i + 1 : none;
    }
    free_ = 0;
  }
  for_each_operation(for_each_operation&&) = delete;
  ~for_each_operation() {
    for (std::size_t i = 0; i < capacity_; ++i)
      std::allocator_traits<allocator_t>::destroy(alloc_, places_ + i);
    std::allocator_traits<allocator_t>::deallocate(alloc_, places_, capacity_);
  }

  void start() & noexcept {
    driving_ = true; // nothing below completes the receiver until drive() says so
    if constexpr (!ex::unstoppable_token<outer_token_t>)
      outer_callback_.emplace(ex::get_stop_token(ex::get_env(rcvr_)), on_outer_stop{this});
    if (shared_) concurrency_limit::listener::attach(*shared_, this);
    try {
      it_.emplace(std::ranges::begin(view_));
    } catch (...) {
      fail(std::current_exception());
      std::lock_guard lock(mutex_);
      input_done_ = true;
    }
    drive();
  }

private:
  std::size_t current_limit() const noexcept { return shared_ ? shared_->get() : fixed_limit_; }

  child_t& child(std::size_t i) noexcept {
    return *std::launder(reinterpret_cast<child_t*>(places_[i].child));
  }

  template <class... Vs> void item_value(std::size_t i, Vs&&... vs) noexcept {
    try {
      places_[i].value.emplace(std::in_place_type<decayed_tuple<Vs...>>, std::forward<Vs>(vs)...);
    } catch (...) { // a value that cannot be stored fails the whole, as when_all's would
      fail(std::current_exception());
    }
    completed(i);
  }

  template <class E> void item_error(std::size_t i, E&& e) noexcept {
    fail(std::forward<E>(e));
    completed(i);
  }

  void item_stopped(std::size_t i) noexcept {
    stop(true);
    completed(i);
  }

  // The first error is kept; it wins over stopped, as in when_all.
  template <class E> void fail(E&& e) noexcept {
    {
      std::lock_guard lock(mutex_);
      if (!error_) {
        try {
          error_.emplace(std::in_place_type<std::decay_t<E>>, std::forward<E>(e));
        } catch (...) {
          error_.emplace(std::in_place_type<std::exception_ptr>, std::current_exception());
        }
      }
    }
    stop(false);
  }

  void stop(bool stopped) noexcept {
    bool cancel;
    {
      std::lock_guard lock(mutex_);
      cancel = !stopping_ && policy_ == on_stop::cancel;
      stopping_ = true;
      stopped_ = stopped_ || stopped;
      guards_ += cancel; // no completion while the stop source is busy: it lives in *this
    }
    if (!cancel) return;
    inner_.request_stop(); // children may complete inline, here
    bool resume;
    {
      std::lock_guard lock(mutex_);
      resume = --guards_ == 0 && !driving_;
      driving_ = driving_ || resume;
    }
    if (resume) drive();
  }

  void outer_stop() noexcept { stop(true); } // no more pulls; children are running, and drive

  void limit_raised() noexcept override {
    {
      std::lock_guard lock(mutex_);
      if (driving_) return; // the loop reads the limit again before it stops
      driving_ = true;
    }
    drive();
  }

  void completed(std::size_t i) noexcept {
    {
      std::lock_guard lock(mutex_);
      places_[i].next = none;
      (ready_tail_ == none ? ready_head_ : places_[ready_tail_].next) = i;
      ready_tail_ = i;
      if (driving_) return; // whoever drives hands it out
      driving_ = true;
    }
    drive();
  }

  // Starts the next sender of the input in place i, or ends the input.
  void start_next(std::size_t i) noexcept {
    place& p = places_[i];
    try {
      if (*it_ == std::ranges::end(view_)) return release(i, /*ended=*/true);
      ::new (static_cast<void*>(p.child))
          child_t(ex::connect(std::ranges::iter_move(*it_), receiver_t{this, i}));
      p.has_child = true;
      ++*it_;
    } catch (...) { // the input or connect threw: the input cannot go on
      if (p.has_child) std::destroy_at(&child(i)); // built, never started
      p.has_child = false;
      fail(std::current_exception());
      return release(i, /*ended=*/true);
    }
    ex::start(child(i)); // may complete inline: completed() queues it, since we drive
  }

  void release(std::size_t i, bool ended) noexcept {
    std::lock_guard lock(mutex_);
    places_[i].next = free_;
    free_ = i;
    --outstanding_;
    if (ended) input_done_ = true;
  }

  // One agent at a time runs this loop: refill every free place that fits, then hand out one
  // value, and again; the last completion or a raised limit resumes it when it has stopped.
  void drive() noexcept {
    std::optional<values> taken;
    for (;;) {
      std::unique_lock lock(mutex_);
      if (!stopping_ && !input_done_ && free_ != none && outstanding_ < current_limit()) {
        std::size_t i = free_;
        free_ = places_[i].next;
        ++outstanding_;
        lock.unlock();
        start_next(i);
        continue;
      }
      if (taken) {
        bool call = !stopping_;
        lock.unlock();
        if (call) {
          try {
            std::visit([&](auto& args) { std::apply(fn_, std::move(args)); }, *taken);
          } catch (...) {
            fail(std::current_exception());
          }
        }
        taken.reset();
        continue;
      }
      if (ready_head_ != none) {
        std::size_t i = ready_head_;
        ready_head_ = places_[i].next;
        if (ready_head_ == none) ready_tail_ = none;
        bool keep = !stopping_;
        lock.unlock();
        place& p = places_[i];
        std::destroy_at(&child(i)); // its completion has been called
        p.has_child = false;
        if (keep && p.value) taken.emplace(std::move(*p.value));
        p.value.reset();
        release(i, false); // the place is free before the refill, and the refill before fn
        continue;
      }
      if (outstanding_ == 0 && (input_done_ || stopping_) && guards_ == 0) {
        lock.unlock();
        finish();
        return;
      }
      driving_ = false;
      return;
    }
  }

  void finish() noexcept {
    outer_callback_.reset();
    if (shared_) concurrency_limit::listener::detach(*shared_);
    if (error_)
      std::visit([&](auto& e) { ex::set_error(std::move(rcvr_), std::move(e)); }, *error_);
    else if (stopped_)
      ex::set_stopped(std::move(rcvr_));
    else
      ex::set_value(std::move(rcvr_));
  }

  Rcvr rcvr_;
  View view_;
  Fn fn_;
  std::size_t fixed_limit_;
  concurrency_limit* shared_;
  on_stop policy_;
  std::size_t capacity_;
  allocator_t alloc_;
  place* places_ = nullptr;
  std::optional<std::ranges::iterator_t<View>> it_;
  ex::inplace_stop_source inner_;
  std::optional<outer_callback_t> outer_callback_;
  std::optional<errors> error_;
  std::mutex mutex_;
  std::size_t free_ = none, ready_head_ = none, ready_tail_ = none, outstanding_ = 0, guards_ = 0;
  bool driving_ = false, input_done_ = false, stopping_ = false, stopped_ = false;
};

template <class View, class Fn> struct for_each_sender {
  using sender_concept = ex::sender_tag;
  using item_t = std::ranges::range_rvalue_reference_t<View>;

  View view;
  Fn fn;
  std::size_t limit;
  concurrency_limit* shared;
  on_stop policy;

  template <class Self, class... Env> static consteval auto get_completion_signatures() {
    if constexpr (sizeof...(Env) == 0)
      return completions_t<item_t, ex::env<>>{};
    else
      return completions_t<item_t, std::tuple_element_t<0, std::tuple<Env...>>>{};
  }

  template <ex::receiver Rcvr> for_each_operation<Rcvr, View, Fn> connect(Rcvr rcvr) && {
    return {std::move(rcvr), std::move(view), std::move(fn), limit, shared, policy};
  }
};

} // namespace detail

template <std::ranges::input_range Rng, class Fn>
requires ex::sender<std::ranges::range_rvalue_reference_t<Rng>> && std::move_constructible<Fn>
auto bounded_for_each_t::operator()(Rng&& senders, std::size_t limit, Fn fn,
                                    bounded_options opts) const {
  if (limit == 0) throw std::invalid_argument("bounded_for_each: the limit must be at least 1");
  using view_t = std::views::all_t<Rng>;
  return detail::for_each_sender<view_t, Fn>{std::views::all(std::forward<Rng>(senders)),
                                             std::move(fn), limit, nullptr, opts.on_stop};
}

template <std::ranges::input_range Rng, class Fn>
requires ex::sender<std::ranges::range_rvalue_reference_t<Rng>> && std::move_constructible<Fn>
auto bounded_for_each_t::operator()(Rng&& senders, concurrency_limit& limit, Fn fn,
                                    bounded_options opts) const {
  using view_t = std::views::all_t<Rng>;
  return detail::for_each_sender<view_t, Fn>{std::views::all(std::forward<Rng>(senders)),
                                             std::move(fn), 0, &limit, opts.on_stop};
}

// ---------------------------------------------------------------------------------------------
// bounded_scope

// A permit waiting for room, or a join waiting for the count to reach zero.
struct bounded_scope::waiter {
  waiter* next = nullptr;
  waiter* prev = nullptr;
  bool decided = false; // granted, refused or cancelled: under the scope's mutex
  bool granted = false;
  virtual void arrive() noexcept = 0;

protected:
  ~waiter() = default;
};

class bounded_scope::association {
public:
  association() noexcept = default;
  association(association&& o) noexcept : scope_(std::exchange(o.scope_, nullptr)) {}
  association& operator=(association o) noexcept {
    std::swap(scope_, o.scope_);
    return *this;
  }
  ~association() {
    if (scope_) scope_->release();
  }
  explicit operator bool() const noexcept { return scope_ != nullptr; }
  association try_associate() const noexcept {
    return scope_ ? scope_->try_associate() : association();
  }

private:
  friend class bounded_scope;
  explicit association(bounded_scope* s) noexcept : scope_(s) {}
  bounded_scope* scope_ = nullptr;
};

class bounded_scope::token {
public:
  association try_associate() const noexcept { return scope_->try_associate(); }
  template <ex::sender Sndr> Sndr&& wrap(Sndr&& sndr) const noexcept {
    return std::forward<Sndr>(sndr);
  }

private:
  friend class bounded_scope;
  explicit token(bounded_scope* s) noexcept : scope_(s) {}
  bounded_scope* scope_;
};

template <class Rcvr> class bounded_scope::permit_operation : bounded_scope::waiter {
  using token_t = ex::stop_token_of_t<ex::env_of_t<Rcvr>>;
  struct on_stop_request {
    permit_operation* self;
    void operator()() const noexcept { self->cancel(); }
  };
  using callback_t = ex::stop_callback_for_t<token_t, on_stop_request>;

public:
  using operation_state_concept = ex::operation_state_tag;
  permit_operation(bounded_scope* scope, Rcvr rcvr) noexcept
      : scope_(scope), rcvr_(std::move(rcvr)) {}
  permit_operation(permit_operation&&) = delete;

  void start() & noexcept {
    auto stop_token = ex::get_stop_token(ex::get_env(rcvr_));
    if (stop_token.stop_requested()) return ex::set_stopped(std::move(rcvr_));
    {
      std::lock_guard lock(scope_->mutex_);
      if (scope_->closed_) {
        decided = true;
      } else if (!scope_->head_ && scope_->count_ < scope_->limit_) {
        ++scope_->count_;
        granted = decided = true;
      } else { // wait, first in first out
        prev = scope_->tail_;
        (scope_->tail_ ? scope_->tail_->next : scope_->head_) = this;
        scope_->tail_ = this;
      }
    }
    if (decided) return complete();
    // Two parties finish the wait, this start and whoever grants or cancels it; the second
    // completes the receiver, so the stop callback is in place before anyone can complete.
    if constexpr (!ex::unstoppable_token<token_t>)
      callback_.emplace(stop_token, on_stop_request{this});
    arrive();
  }

private:
  void cancel() noexcept {
    {
      std::lock_guard lock(scope_->mutex_);
      if (decided) return;
      decided = true;
      (prev ? prev->next : scope_->head_) = next;
      (next ? next->prev : scope_->tail_) = prev;
    }
    arrive();
  }
  void arrive() noexcept override {
    if (arrivals_.fetch_add(1, std::memory_order_acq_rel) == 1) complete();
  }
  void complete() noexcept {
    callback_.reset();
    if (granted)
      ex::set_value(std::move(rcvr_), association(scope_));
    else
      ex::set_stopped(std::move(rcvr_));
  }

  friend class bounded_scope;
  bounded_scope* scope_;
  Rcvr rcvr_;
  std::atomic<int> arrivals_{0};
  std::optional<callback_t> callback_;
};

struct bounded_scope::permit_sender {
  using sender_concept = ex::sender_tag;
  using completion_signatures =
      ex::completion_signatures<ex::set_value_t(association), ex::set_stopped_t()>;
  bounded_scope* scope;
  template <ex::receiver Rcvr> permit_operation<Rcvr> connect(Rcvr rcvr) const noexcept {
    return {scope, std::move(rcvr)};
  }
};

struct bounded_scope::join_sender {
  using sender_concept = ex::sender_tag;
  using completion_signatures = ex::completion_signatures<ex::set_value_t()>;
  bounded_scope* scope;

  template <class Rcvr> struct operation : waiter {
    using operation_state_concept = ex::operation_state_tag;
    bounded_scope* scope;
    Rcvr rcvr;
    operation(bounded_scope* s, Rcvr r) noexcept : scope(s), rcvr(std::move(r)) {}
    operation(operation&&) = delete;
    void start() & noexcept {
      {
        std::lock_guard lock(scope->mutex_);
        if (scope->count_ != 0) {
          next = scope->joiners_;
          scope->joiners_ = this;
          return;
        }
      }
      ex::set_value(std::move(rcvr));
    }
    void arrive() noexcept override { ex::set_value(std::move(rcvr)); }
  };
  template <ex::receiver Rcvr> operation<Rcvr> connect(Rcvr rcvr) const noexcept {
    return {scope, std::move(rcvr)};
  }
};

inline bounded_scope::bounded_scope(std::size_t limit) : capacity_(limit), limit_(limit) {
  if (limit == 0) throw std::invalid_argument("bounded_scope: the limit must be at least 1");
}

inline bounded_scope::~bounded_scope() {
  std::lock_guard lock(mutex_);
  if (count_ != 0 || head_ || joiners_) std::terminate(); // as counting_scope does, unjoined
}

inline bounded_scope::token bounded_scope::get_token() noexcept {
  return token(this);
}
inline bounded_scope::permit_sender bounded_scope::associate() noexcept {
  return {this};
}
inline bounded_scope::join_sender bounded_scope::join() noexcept {
  return {this};
}
inline std::size_t bounded_scope::capacity() const noexcept {
  return capacity_;
}
inline std::size_t bounded_scope::limit() const noexcept {
  std::lock_guard lock(mutex_);
  return limit_;
}

inline bounded_scope::association bounded_scope::try_associate() noexcept {
  std::lock_guard lock(mutex_);
  if (closed_ || head_ || count_ >= limit_) return association();
  ++count_;
  return association(this);
}

// Takes waiters that now fit off the queue, counting them, into a list to complete unlocked.
inline void bounded_scope::grant_locked(waiter*& granted) noexcept {
  waiter** last = &granted;
  while (head_ && count_ < limit_) {
    waiter* w = head_;
    head_ = w->next;
    (head_ ? head_->prev : tail_) = nullptr;
    ++count_;
    w->granted = w->decided = true;
    w->next = nullptr;
    *last = w;
    last = &w->next;
  }
}

namespace detail {
inline void arrive_all(auto* w) noexcept {
  while (w) {
    auto* next = w->next; // w may be gone once it has arrived
    w->arrive();
    w = next;
  }
}
} // namespace detail

inline void bounded_scope::release() noexcept {
  waiter* granted = nullptr;
  waiter* joiners = nullptr;
  {
    std::lock_guard lock(mutex_);
    --count_;
    grant_locked(granted);
    if (count_ == 0) joiners = std::exchange(joiners_, nullptr);
  }
  detail::arrive_all(granted); // a granted permit is decided: its cancel() does nothing now
  detail::arrive_all(joiners);
}

inline void bounded_scope::set_limit(std::size_t n) {
  if (n == 0 || n > capacity_)
    throw std::invalid_argument("bounded_scope::set_limit: need 1 <= n <= capacity");
  waiter* granted = nullptr;
  {
    std::lock_guard lock(mutex_);
    limit_ = n;
    grant_locked(granted);
  }
  detail::arrive_all(granted);
}

inline void bounded_scope::close() noexcept {
  waiter* refused = nullptr;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    refused = std::exchange(head_, nullptr);
    tail_ = nullptr;
    for (waiter* w = refused; w; w = w->next)
      w->decided = true;
  }
  detail::arrive_all(refused);
}

// A token that hands over one association already held, so that spawn cannot refuse.
namespace detail {
struct handover_token {
  bounded_scope::association* held;
  bounded_scope::association try_associate() const noexcept { return std::move(*held); }
  template <ex::sender Sndr> Sndr&& wrap(Sndr&& sndr) const noexcept {
    return std::forward<Sndr>(sndr);
  }
};
} // namespace detail

template <ex::sender Sndr> auto bounded_spawn(Sndr sndr, bounded_scope& scope) {
  return ex::then(scope.associate(),
                  [sndr = std::move(sndr)](bounded_scope::association held) mutable {
                    ex::spawn(std::move(sndr), detail::handover_token{&held});
                  });
}

} // namespace bounded_exec
