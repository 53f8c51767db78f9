// examples/report/svg.cpp -- the SVG writer.
#include "examples/report/svg.hpp"

#include <algorithm>
#include <cmath>

namespace sg::figures {

std::string escape(std::string_view text) {
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

std::string css_rgb(double r, double g, double b) {
  auto byte = [](double v) { return int(std::lround(255 * std::clamp(v, 0.0, 1.0))); };
  return format("rgb(%d,%d,%d)", byte(r), byte(g), byte(b));
}

Svg::Svg(double width, double height, std::string_view background, double font_size) {
  append(out_,
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
         "font-family=\"sans-serif\" font-size=\"%g\">\n",
         width, height, width, height, font_size);
  out_ += "<rect width=\"100%\" height=\"100%\" fill=\"" + escape(background) + "\"/>\n";
}

void Svg::title(std::string_view text) { out_ += "<title>" + escape(text) + "</title>\n"; }

void Svg::heading(std::string_view text, double font_size) {
  append(out_, "<text x=\"8\" y=\"18\" font-size=\"%g\">", font_size);
  out_ += escape(text) + "</text>\n";
}

void Svg::attributes(const Style& style) {
  if (!style.fill.empty()) out_ += " fill=\"" + escape(style.fill) + "\"";
  if (!style.stroke.empty()) out_ += " stroke=\"" + escape(style.stroke) + "\"";
  if (style.stroke_width > 0) append(out_, " stroke-width=\"%g\"", style.stroke_width);
  if (!style.dash.empty()) out_ += " stroke-dasharray=\"" + escape(style.dash) + "\"";
  if (!style.anchor.empty()) out_ += " text-anchor=\"" + escape(style.anchor) + "\"";
  if (style.font_size > 0) append(out_, " font-size=\"%g\"", style.font_size);
  if (style.bold) out_ += " font-weight=\"bold\"";
}

void Svg::end(const char* name, const Style& style) {
  if (style.tooltip.empty()) out_ += "/>\n";
  else out_ += "><title>" + escape(style.tooltip) + "</title></" + name + ">\n";
}

void Svg::text(double x, double y, std::string_view text, const Style& style) {
  append(out_, "<text x=\"%.1f\" y=\"%.1f\"", x, y);
  attributes(style);
  out_ += '>';
  out_ += escape(text) + "</text>\n";
}

void Svg::rect(double x, double y, double width, double height, const Style& style) {
  append(out_, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", x, y, width, height);
  attributes(style);
  end("rect", style);
}

void Svg::line(double x1, double y1, double x2, double y2, const Style& style) {
  append(out_, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", x1, y1, x2, y2);
  attributes(style);
  end("line", style);
}

void Svg::circle(double cx, double cy, double r, const Style& style) {
  append(out_, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", cx, cy, r);
  attributes(style);
  end("circle", style);
}

void Svg::polyline(const std::vector<Point>& points, const Style& style) {
  out_ += "<polyline";
  if (style.fill.empty()) out_ += " fill=\"none\"";
  attributes(style);
  out_ += " points=\"";
  for (std::size_t i = 0; i < points.size(); ++i)
    append(out_, i ? " %.1f,%.1f" : "%.1f,%.1f", points[i].x, points[i].y);
  out_ += "\"";
  end("polyline", style);
}

void Svg::frame(const Plot& plot) {
  rect(plot.left, plot.top, plot.width, plot.height, {.fill = "none", .stroke = "#999"});
}

void Svg::y_tick(const Plot& plot, double y, std::string_view label) {
  line(plot.left, plot.py(y), plot.left + plot.width, plot.py(y), {.stroke = "#eee"});
  text(plot.left - 4, plot.py(y) + 4, label, {.anchor = "end"});
}

void Svg::y_ticks(const Plot& plot, int steps) {
  for (int t = 0; t <= steps; ++t) {
    const double v = plot.y0 + (plot.y1 - plot.y0) * t / steps;
    y_tick(plot, v, format("%.3g", v));
  }
}

void Svg::x_tick(const Plot& plot, double x, std::string_view label) {
  text(plot.px(x), plot.top + plot.height + 15, label, {.anchor = "middle"});
}

void Svg::y_title(const Plot& plot, std::string_view text) {
  const double y = plot.top + plot.height / 2;
  append(out_, "<text x=\"14\" y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">", y, y);
  out_ += escape(text) + "</text>\n";
}

void Svg::legend(const Plot& plot, int row, std::string_view name, std::string_view color) {
  const double x = plot.left + plot.width, y = plot.top + 16.0 * row;
  rect(x + 10, y, 10, 10, {.fill = std::string(color)});
  text(x + 24, y + 9, name);
}

std::string Svg::done() const { return out_ + "</svg>\n"; }

}  // namespace sg::figures
