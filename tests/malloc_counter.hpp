// tests/malloc_counter.hpp -- counts heap allocations by interposing malloc and its relatives.
//
// Contract:
// - Include this header in exactly ONE translation unit of a program (it defines malloc, calloc,
//   realloc, aligned_alloc, memalign and posix_memalign with external linkage). Every
//   allocation -- operator new, Eigen, OpenMP, the standard library -- then goes through
//   them, and each call adds one to sg::alloc::count(); the memory itself comes from glibc's
//   own __libc_* functions. The count is atomic, so threads may allocate concurrently.
// - Under AddressSanitizer, which owns malloc itself, nothing is interposed: available() is
//   false and count() stays 0, so callers must check available() before asserting on a count.
// Used by tests/test_alloc.cpp (a cycle allocates nothing after warm-up) and by
// bench/bench_alloc.cpp (allocations per steady-state training step).
#pragma once

#include <atomic>
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define SG_COUNT_ALLOCATIONS 0
#else
#define SG_COUNT_ALLOCATIONS 1
#endif

namespace sg::alloc {

inline std::atomic<long> g_count{0};

inline constexpr bool available() { return SG_COUNT_ALLOCATIONS != 0; }
// Allocation calls so far in this process (0 when not available).
inline long count() { return g_count.load(std::memory_order_relaxed); }

}  // namespace sg::alloc

#if SG_COUNT_ALLOCATIONS
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) noexcept {
  sg::alloc::g_count.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
  sg::alloc::g_count.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) noexcept {
  sg::alloc::g_count.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
  sg::alloc::g_count.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, n);
}
void* memalign(std::size_t alignment, std::size_t n) noexcept {
  sg::alloc::g_count.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  sg::alloc::g_count.fetch_add(1, std::memory_order_relaxed);
  *out = __libc_memalign(alignment, n);
  return *out ? 0 : 12;  // ENOMEM
}
}
#endif
