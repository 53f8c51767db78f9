// Small helpers the test suites share: a fresh temporary folder, a whole file as bytes.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

}  // namespace sg::test
