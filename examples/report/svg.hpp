// examples/report/svg.hpp -- the pieces every hand-written SVG (and HTML) figure shares.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace sg::figures {

// printf-style text appended to `out`, whatever its length.
template <class... Args>
void append(std::string& out, const char* format, Args... args) {
  const int n = std::snprintf(nullptr, 0, format, args...);
  if (n <= 0) return;
  const std::size_t at = out.size();
  out.resize(at + std::size_t(n) + 1);  // room for snprintf's terminating zero, dropped below
  std::snprintf(out.data() + at, std::size_t(n) + 1, format, args...);
  out.resize(at + std::size_t(n));
}

// Text as XML/HTML character data or an attribute value.
inline std::string escape(std::string_view text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

}  // namespace sg::figures
