// A completion handler stored without knowing its type, for bounded/as_completed.hpp.
//
// Copyright the hundred-million-requests authors. Distributed under the Boost Software License,
// Version 1.0.
#pragma once

#include <asio/associated_allocator.hpp>

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

/// @cond DETAIL
namespace bounded::detail {

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

} // namespace bounded::detail
/// @endcond
