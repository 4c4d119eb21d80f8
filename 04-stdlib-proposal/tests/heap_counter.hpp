// Counts every heap allocation of the process, by standing in for malloc and its family in front
// of glibc's own: operator new, std::allocator and Asio's aligned recycling allocator all end up
// here. Include it in exactly one file of a program. Not under a sanitizer, which has its own
// malloc; heap_counter::available is then false.
#pragma once

#include <atomic>
#include <cstddef>

namespace heap_counter {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool available = false;
#else
constexpr bool available = true;
#endif

inline std::atomic<long long> allocations{0}; ///< heap blocks allocated so far
inline std::atomic<long long> live_bytes{0};  ///< bytes in blocks not yet freed
inline std::atomic<long long> peak_bytes{0};  ///< the most live_bytes has been since reset_peak()

/// Starts measuring the peak from now.
inline void reset_peak() {
  peak_bytes = live_bytes.load();
}

} // namespace heap_counter

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#include <malloc.h>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace heap_counter::detail {

inline void* counted(void* p) noexcept {
  if (!p) return p;
  allocations.fetch_add(1, std::memory_order_relaxed);
  auto size = static_cast<long long>(malloc_usable_size(p));
  auto now = live_bytes.fetch_add(size, std::memory_order_relaxed) + size;
  for (auto peak = peak_bytes.load(std::memory_order_relaxed);
       now > peak && !peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed);) {
  }
  return p;
}

inline void uncounted(void* p) noexcept {
  if (p)
    live_bytes.fetch_sub(static_cast<long long>(malloc_usable_size(p)), std::memory_order_relaxed);
}

} // namespace heap_counter::detail

extern "C" {
void* malloc(std::size_t n) {
  return heap_counter::detail::counted(__libc_malloc(n));
}
void* calloc(std::size_t n, std::size_t size) {
  return heap_counter::detail::counted(__libc_calloc(n, size));
}
void* realloc(void* p, std::size_t n) {
  heap_counter::detail::uncounted(p);
  void* q = __libc_realloc(p, n);
  if (!q && n != 0) return heap_counter::detail::counted(p), nullptr; // p is still there
  return heap_counter::detail::counted(q);
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  return heap_counter::detail::counted(__libc_memalign(align, n));
}
void* memalign(std::size_t align, std::size_t n) {
  return heap_counter::detail::counted(__libc_memalign(align, n));
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  *out = heap_counter::detail::counted(__libc_memalign(align, n));
  return *out ? 0 : 12; // ENOMEM
}
void free(void* p) {
  heap_counter::detail::uncounted(p);
  __libc_free(p);
}
}
#endif
