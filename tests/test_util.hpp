// Small helpers the test suites share: a fresh temporary folder, a whole file as bytes, a
// random matrix.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "autodiff/tensor.hpp"

namespace sg::test {

// A new, empty folder under the system's temporary directory, named after `what`.
inline std::filesystem::path temp_dir(const std::string& what) {
  std::string pattern = (std::filesystem::temp_directory_path() / ("spheregrad-" + what + "-XXXXXX")).string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A rows x cols matrix of uniform draws in [lo, hi).
inline Matrix<double> random_matrix(int rows, int cols, std::mt19937_64& rng, double lo = -1.5, double hi = 1.5) {
  std::uniform_real_distribution<double> u(lo, hi);
  Matrix<double> m(rows, cols);
  for (long i = 0; i < m.size(); ++i) m.data()[i] = u(rng);
  return m;
}

}  // namespace sg::test
