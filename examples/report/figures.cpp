// examples/report/figures.cpp -- .npy bytes, the run's SVG figures and the HTML report.
#include "examples/report/figures.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "examples/report/svg.hpp"

namespace sg::figures {
namespace {

const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

}  // namespace

namespace {

// A .npy file of `count` elements of `size` bytes at `data`, its dtype written as `descr`.
std::string npy_file(const char* descr, const void* data, std::size_t size, const std::vector<long>& shape) {
  std::string dims;
  long count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dims += (i ? ", " : "") + std::to_string(shape[i]);
    count *= shape[i];
  }
  if (shape.size() == 1) dims += ",";  // a 1-tuple is written (n,)
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + header length (2) + header, padded with spaces and ended by a
  // newline so the data starts on a 64-byte boundary.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(data), std::size_t(count) * size);
  return out;
}

}  // namespace

std::string npy(const float* data, const std::vector<long>& shape) {
  static_assert(std::numeric_limits<float>::is_iec559, "npy: float must be IEEE 754 binary32");
  return npy_file("<f4", data, sizeof(float), shape);
}

std::string npy(const std::int64_t* data, const std::vector<long>& shape) {
  return npy_file("<i8", data, sizeof(std::int64_t), shape);
}

std::string latent_svg(const Matrix<float>& z, const Matrix<float>& rgb, int dim_x, int dim_y,
                       const std::string& title) {
  // [-1.6, 1.6] on each axis: the unit circle with room for latents off it.
  const double size = 420;
  const Plot plot{.left = 0, .top = 30, .width = size, .height = size, .x0 = -1.6, .x1 = 1.6, .y0 = -1.6, .y1 = 1.6};
  const double cx = plot.px(0), cy = plot.py(0);
  Svg svg(size, plot.top + size, "#f8f8f8", 12);
  svg.heading(title, 12);
  svg.line(0, cy, size, cy, {.stroke = "#ccc"});
  svg.line(cx, plot.top, cx, plot.top + size, {.stroke = "#ccc"});
  svg.circle(cx, cy, plot.px(1) - cx, {.fill = "none", .stroke = "#888", .dash = "5,4"});
  svg.text(size - 44, cy - 4, format("dim %d", dim_x), {.fill = "#666"});
  svg.text(cx + 4, plot.top + 14, format("dim %d", dim_y), {.fill = "#666"});
  for (long i = 0; i < z.rows(); ++i)
    svg.circle(plot.px(z(i, dim_x)), plot.py(z(i, dim_y)), 4,
               {.fill = css_rgb(rgb(i, 0), rgb(i, 1), rgb(i, 2)), .stroke = "#0003"});
  return svg.done();
}

std::string line_chart_svg(const std::vector<Series>& series, bool log_y, const std::string& title,
                           const std::vector<Marker>& markers) {
  const double width = 720, height = 360;
  // The plot's y is log10(y) on a log chart, where a non-positive y cannot be drawn.
  auto drawn = [&](double y) { return std::isfinite(y) && (!log_y || y > 0); };
  auto plotted = [&](double y) { return log_y ? std::log10(y) : y; };
  Plot plot{.left = 70, .top = 30, .width = width - 70 - 150, .height = height - 30 - 40};
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const Series& s : series)
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!drawn(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, plotted(s.y[i]));
      y1 = std::max(y1, plotted(s.y[i]));
    }
  if (!(x1 > x0)) x1 = x0 + 1;
  if (log_y) {
    y0 = std::floor(y0);
    y1 = std::ceil(y1);
  }
  if (!(y1 > y0)) y1 = y0 + 1;
  plot.x0 = x0, plot.x1 = x1, plot.y0 = y0, plot.y1 = y1;

  Svg svg(width, height);
  svg.heading(title);
  svg.frame(plot);
  // Y ticks: decades on a log axis, five steps on a linear one.
  if (log_y)
    for (int t = 0; t <= int(y1 - y0); ++t) svg.y_tick(plot, y0 + t, format("1e%d", int(y0) + t));
  else
    svg.y_ticks(plot, 5);
  for (int t = 0; t <= 4; ++t) {
    const double v = x0 + (x1 - x0) * t / 4;
    svg.x_tick(plot, v, format("%.0f", v));
  }
  svg.text(plot.left + plot.width / 2, height - 6, "step", {.anchor = "middle"});
  for (const Marker& m : markers) {
    if (!(m.x >= x0 && m.x <= x1)) continue;
    const std::string tooltip = m.label + ": step " + std::to_string(long(m.x));
    svg.line(plot.px(m.x), plot.top, plot.px(m.x), plot.top + plot.height,
             {.stroke = kPalette[m.color % 10], .dash = "4,3", .tooltip = tooltip});
  }
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string color = kPalette[k % 10];
    // A point that cannot be drawn breaks the line.
    std::vector<Point> line;
    for (std::size_t i = 0; i <= s.x.size(); ++i) {
      if (i < s.x.size() && drawn(s.y[i])) {
        line.push_back({plot.px(s.x[i]), plot.py(plotted(s.y[i]))});
      } else if (!line.empty()) {
        svg.polyline(line, {.stroke = color, .stroke_width = 1.2});
        line.clear();
      }
    }
    svg.legend(plot, int(k), s.name, color);
  }
  return svg.done();
}

// The report's files, compiled in by the Makefile (examples/report/assets/, libjs-dygraphs).
extern const char* const asset_report_html;
extern const char* const asset_report_css;
extern const char* const asset_report_js;
extern const char* const asset_dygraph_min_js;
extern const char* const asset_dygraph_min_css;

std::string report_html(const std::string& title, const std::string& data_json) {
  // Inside a <script>, "</" could end it early: JSON allows the escape "<\/".
  std::string data;
  for (char c : data_json) {
    if (c == '/' && !data.empty() && data.back() == '<') data += '\\';
    data += c;
  }
  const std::pair<std::string_view, std::string> fills[] = {
      {"@TITLE@", escape(title)},           {"@DATA@", data},
      {"@REPORT_CSS@", asset_report_css},   {"@REPORT_JS@", asset_report_js},
      {"@DYGRAPH_CSS@", asset_dygraph_min_css}, {"@DYGRAPH_JS@", asset_dygraph_min_js}};
  // One pass over the template: what is filled in is never searched for markers.
  const std::string_view page = asset_report_html;
  std::string html;
  for (std::size_t at = 0; at < page.size();) {
    bool filled = false;
    if (page[at] == '@')
      for (const auto& [marker, text] : fills)
        if (page.substr(at, marker.size()) == marker) {
          html += text;
          at += marker.size();
          filled = true;
          break;
        }
    if (!filled) html += page[at++];
  }
  return html;
}

nlohmann::json report_data(const std::string& report_path) {
  std::ifstream in(report_path, std::ios::binary);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "<script>const DATA = ", end = ";</script>";
  const std::size_t a = html.find(begin), b = a == std::string::npos ? a : html.find(end, a);
  const nlohmann::json data =
      b == std::string::npos ? nlohmann::json() : nlohmann::json::parse(html.substr(a + begin.size(), b - a - begin.size()), nullptr, false);
  if (!data.is_object()) throw std::runtime_error(report_path + ": not a report written by this version of spheregrad");
  return data;
}

void write_file_atomically(const std::string& path, std::string_view contents) {
  // The writer's own temporary name: it can never be a file the caller keeps (a run's
  // metrics.csv.tmp beside its metrics.csv) or another process's.
  const std::string temporary = path + ".tmp-" + std::to_string(getpid());
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (!file) throw std::runtime_error("cannot write " + temporary + ": " + std::strerror(errno));
  const bool written = std::fwrite(contents.data(), 1, contents.size(), file) == contents.size();
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed || std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(error));
  }
}

}  // namespace sg::figures
