// examples/report/svg.hpp -- the one SVG writer: every figure in report/ is drawn with it.
//
// Positions and lengths are pixels from the top left, written with one decimal; stroke widths and
// font sizes as given. Every text is escaped here: callers pass plain strings.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

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

// printf-style text as a string: tick labels and titles.
template <class... Args>
std::string format(const char* format, Args... args) {
  std::string out;
  append(out, format, args...);
  return out;
}

// Text as XML/HTML character data or an attribute value.
std::string escape(std::string_view text);

// "rgb(r,g,b)" of a color whose channels are in [0, 1] (clamped).
std::string css_rgb(double r, double g, double b);

// How an element is drawn, given with designated initializers: {.fill = "none", .stroke = "#999"}.
// Empty and zero fields are not written, so the element keeps the SVG default or the document's:
// black fill, no stroke, sans-serif at the document's font size. (Every member has an initializer:
// GCC warns about members a designated initializer leaves out otherwise.)
struct Style {
  std::string fill = {}, stroke = {};
  double stroke_width = 0;
  std::string dash = {};    // stroke-dasharray, e.g. "5,4"
  std::string anchor = {};  // text-anchor: "middle" or "end"
  double font_size = 0;
  bool bold = false;
  std::string tooltip = {};  // shapes: a <title> child, which a browser shows on hover
};

struct Point {
  double x, y;
};

// A plot area: data [x0, x1] x [y0, y1] on the rectangle (left, top, width, height), y upwards.
struct Plot {
  double left = 0, top = 0, width = 0, height = 0;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double px(double x) const { return left + width * (x - x0) / (x1 - x0); }
  double py(double y) const { return top + height * (1 - (y - y0) / (y1 - y0)); }
};

class Svg {
 public:
  // A width x height document on a `background` rectangle, its text sans-serif at `font_size`.
  Svg(double width, double height, std::string_view background = "white", double font_size = 11);

  void title(std::string_view text);                           // the document's name, not drawn
  void heading(std::string_view text, double font_size = 13);  // the drawn title, top left
  void text(double x, double y, std::string_view text, const Style& style = {});
  void rect(double x, double y, double width, double height, const Style& style);
  void line(double x1, double y1, double x2, double y2, const Style& style);
  void circle(double cx, double cy, double r, const Style& style);
  void polyline(const std::vector<Point>& points, const Style& style);  // unfilled unless style.fill

  // The axes of a Plot: its border; a light rule across it at data y, labelled on the left (or
  // `steps` equal steps from y0 to y1, labelled with their values); a label under it at data x;
  // the y axis's name, upright along the left edge; entry `row` of a legend to its right.
  void frame(const Plot& plot);
  void y_tick(const Plot& plot, double y, std::string_view label);
  void y_ticks(const Plot& plot, int steps);
  void x_tick(const Plot& plot, double x, std::string_view label);
  void y_title(const Plot& plot, std::string_view text);
  void legend(const Plot& plot, int row, std::string_view name, std::string_view color);

  // The finished document.
  std::string done() const;

 private:
  void attributes(const Style& style);
  // Ends an empty element, or gives it its tooltip.
  void end(const char* name, const Style& style);
  std::string out_;
};

}  // namespace sg::figures
