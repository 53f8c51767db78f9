// Counts heap allocations: after warm-up, a forward + backward + rewind cycle must allocate
// nothing. The test binary interposes malloc and its relatives (every allocation -- operator
// new, Eigen, OpenMP -- goes through them) and counts the calls. Under AddressSanitizer, which
// owns malloc itself, the count is not available and the test says so.
#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <random>

#include "autodiff/ops.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define SG_COUNT_ALLOCATIONS 0
#else
#define SG_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<long> g_allocations{0};
}

#if SG_COUNT_ALLOCATIONS
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, n);
}
void* memalign(std::size_t alignment, std::size_t n) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  *out = __libc_memalign(alignment, n);
  return *out ? 0 : 12;  // ENOMEM
}
}
#endif

using namespace sg;

namespace {

// One training-like step of a small autoencoder with a pairwise loss on its bottleneck.
float step(Tape<float>& tape, Tensor<float> x, Tensor<float> (&p)[8]) {
  Tensor<float> h = gelu(matmul(x, p[0], false, true) + p[1]);
  Tensor<float> z = matmul(h, p[2], false, true) + p[3];
  Tensor<float> h2 = gelu(matmul(z, p[4], false, true) + p[5]);
  Tensor<float> out = sigmoid(matmul(h2, p[6], false, true) + p[7]);
  Tensor<float> recon = mean(pow(out - x, 2.0));
  Tensor<float> unit = mean(pow(row_norm(z) - 1.0, 2.0));
  Tensor<float> rep = mean(row_sum(pow(cosine_similarity(z), 10.0)));
  Tensor<float> loss = recon + 0.1 * unit + 0.01 * rep;
  tape.zero_grad();
  tape.backward(loss);
  return loss.item();
}

long allocations_per_cycle(int batch) {
  Tape<float> tape;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  auto param = [&](int r, int c) {
    Tensor<float> t = tape.tensor(r, c, true);
    for (long i = 0; i < t.size(); ++i) t.data()[i] = u(rng);
    return t;
  };
  Tensor<float> p[8] = {param(16, 3), param(1, 16), param(4, 16), param(1, 4),
                        param(16, 4), param(1, 16), param(3, 16), param(1, 3)};
  Tensor<float> x = param(batch, 3);
  const auto mark = tape.mark();
  for (int i = 0; i < 3; ++i) {  // warm-up: the arena and the thread pool grow to fit
    step(tape, x, p);
    tape.rewind(mark);
  }
  const long before = g_allocations.load();
  float total = 0;
  for (int i = 0; i < 20; ++i) {
    total += step(tape, x, p);
    tape.rewind(mark);
  }
  CHECK(total == total);  // finite, and the loop is not optimized away
  return g_allocations.load() - before;
}

}  // namespace

TEST_CASE("a forward + backward + rewind cycle allocates nothing after warm-up") {
  if (!SG_COUNT_ALLOCATIONS) {
    MESSAGE("allocation counting is unavailable under AddressSanitizer; skipped");
    return;
  }
  // The counter itself must work, or a zero below would mean nothing.
  const long before = g_allocations.load();
  void* volatile probe = std::malloc(32);
  std::free(probe);
  REQUIRE(g_allocations.load() - before == 1);

  CHECK(allocations_per_cycle(64) == 0);
  CHECK(allocations_per_cycle(2048) == 0);  // large enough for the parallel paths
}
