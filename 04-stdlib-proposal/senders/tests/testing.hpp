// What the sender form's tests share: senders the test completes by hand, and a receiver that
// records how an operation completed.
#pragma once

#include <bounded/senders.hpp>

#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

namespace senders_testing {
namespace ex = stdexec;

// Items the test completes by hand, with values of its choosing. A stop request completes an
// item with set_stopped, inside the stop callback, as many real operations do.
class manual_items {
  struct base {
    virtual void value(int v) noexcept = 0;
    virtual void error(std::exception_ptr e) noexcept = 0;
    virtual void stopped() noexcept = 0;

  protected:
    ~base() = default;
  };

public:
  template <class Rcvr> struct operation final : base {
    using operation_state_concept = ex::operation_state_tag;
    struct on_stop_request {
      operation* self;
      void operator()() const noexcept {
        if (self->items->take(self->id)) self->stopped();
      }
    };
    using token_t = ex::stop_token_of_t<ex::env_of_t<Rcvr>>;
    manual_items* items;
    int id;
    Rcvr rcvr;
    std::optional<ex::stop_callback_for_t<token_t, on_stop_request>> callback;

    operation(manual_items* i, int n, Rcvr r) : items(i), id(n), rcvr(std::move(r)) {}
    operation(operation&&) = delete;
    void start() & noexcept {
      items->add(id, this);
      callback.emplace(ex::get_stop_token(ex::get_env(rcvr)), on_stop_request{this});
    }
    void value(int v) noexcept override {
      callback.reset();
      ex::set_value(std::move(rcvr), v);
    }
    void error(std::exception_ptr e) noexcept override {
      callback.reset();
      ex::set_error(std::move(rcvr), std::move(e));
    }
    void stopped() noexcept override {
      callback.reset();
      ++items->stopped_count;
      ex::set_stopped(std::move(rcvr));
    }
  };

  struct sender {
    using sender_concept = ex::sender_tag;
    using completion_signatures =
        ex::completion_signatures<ex::set_value_t(int), ex::set_error_t(std::exception_ptr),
                                  ex::set_stopped_t()>;
    manual_items* items;
    int id;
    template <class Rcvr> operation<Rcvr> connect(Rcvr rcvr) const {
      return {items, id, std::move(rcvr)};
    }
  };

  sender make(int id) { return {this, id}; }

  bool running(int id) {
    std::lock_guard lock(mutex_);
    return running_.count(id) != 0;
  }
  std::size_t running_count() {
    std::lock_guard lock(mutex_);
    return running_.size();
  }
  int started() {
    std::lock_guard lock(mutex_);
    return started_;
  }
  void complete(int id, int v) {
    if (auto* op = take(id)) op->value(v);
  }
  void complete_each(int from, int to) { // items from..to-1, in order, each with its id
    for (int id = from; id < to; ++id)
      complete(id, id);
  }
  void fail(int id, std::exception_ptr e) {
    if (auto* op = take(id)) op->error(std::move(e));
  }
  void stop(int id) {
    if (auto* op = take(id)) op->stopped();
  }

  int stopped_count = 0;

private:
  void add(int id, base* op) {
    std::lock_guard lock(mutex_);
    running_[id] = op;
    ++started_;
  }
  base* take(int id) {
    std::lock_guard lock(mutex_);
    auto it = running_.find(id);
    if (it == running_.end()) return nullptr;
    base* op = it->second;
    running_.erase(it);
    return op;
  }
  std::mutex mutex_;
  std::map<int, base*> running_;
  int started_ = 0;
};

// How an operation completed.
struct outcome {
  enum kind { pending, value, error, stopped };
  kind how = pending;
  std::exception_ptr exception;
  std::string message() const {
    try {
      std::rethrow_exception(exception);
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "?";
    }
  }
};

// Records the completion; its stop token is the test's.
struct recorder {
  using receiver_concept = ex::receiver_tag;
  outcome* out;
  ex::inplace_stop_source* stop = nullptr;

  void set_value() && noexcept { out->how = outcome::value; }
  template <class E> void set_error(E&& e) && noexcept {
    out->how = outcome::error;
    if constexpr (std::is_same_v<std::decay_t<E>, std::exception_ptr>) out->exception = e;
  }
  void set_stopped() && noexcept { out->how = outcome::stopped; }
  auto get_env() const noexcept {
    return ex::prop{ex::get_stop_token, stop ? stop->get_token() : ex::inplace_stop_token()};
  }
};

} // namespace senders_testing
