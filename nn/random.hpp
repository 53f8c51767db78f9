// nn/random.hpp -- the one random number generator, with independent streams.
//
// Contract:
// - Rng(seed, stream) is xoshiro256** (Blackman & Vigna) whose 256-bit state is filled by
//   SplitMix64 from a hash of (seed, stream). Different streams of one seed -- initialization,
//   the data sampler, the labels, SGLD noise -- never share numbers, and adding draws to one
//   stream never shifts another.
// - Every distribution is written here, not taken from <random>: the standard leaves
//   std::uniform_real_distribution and friends implementation-defined, and a result that changes
//   with the standard library is not reproducible.
// - The state is four 64-bit words; state()/set_state() save and restore it (checkpoints).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace sg {

// Stream ids: one per consumer of randomness. Append new ones; never renumber.
enum class Stream : std::uint64_t { Init = 1, Sampler = 2, Labels = 3, Sgld = 4, Misc = 5 };

class Rng {
 public:
  Rng(std::uint64_t seed, Stream stream) : Rng(seed, static_cast<std::uint64_t>(stream)) {}
  Rng(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t x = mix(mix(seed) ^ (stream * 0xD1B54A32D192ED03ULL + 0x9E3779B97F4A7C15ULL));
    for (std::uint64_t& word : s_) word = splitmix(x);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal by Box-Muller; one draw per call (the second value is not cached, so the
  // state stays four words).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
  }
  // Uniform integer in [0, n), unbiased (rejection of the short last bucket). n > 0.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

  std::array<std::uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<std::uint64_t, 4>& s) { s_ = s; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t mix(std::uint64_t z) {  // SplitMix64's finalizer
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  static std::uint64_t splitmix(std::uint64_t& x) { return mix(x += 0x9E3779B97F4A7C15ULL); }

  std::array<std::uint64_t, 4> s_;
};

}  // namespace sg
