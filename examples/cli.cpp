// examples/cli.cpp -- what every subcommand parses the same way.
#include "examples/cli.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace sg::cli {

std::string figure(double v, int digits) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

long parse_integer(const std::string& option, const char* text, long lo) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno || end == text || *end || v < lo)
    throw std::invalid_argument(option + " expects an integer >= " + std::to_string(lo) + ", got '" + text + "'");
  return v;
}

double parse_number(const std::string& option, const char* text, double lo, bool lo_allowed) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  const bool bounded = std::isfinite(lo);
  if (errno || end == text || *end || !std::isfinite(v) || (bounded && (v < lo || (!lo_allowed && v == lo))))
    throw std::invalid_argument(option + " expects a number" +
                                (bounded ? std::string(lo_allowed ? " >= " : " > ") + figure(lo, 6) : "") + ", got '" +
                                text + "'");
  return v;
}

}  // namespace sg::cli
