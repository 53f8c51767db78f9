// examples/report/figures.cpp -- .npy bytes, SVG figures and the HTML report, written by hand.
#include "examples/report/figures.hpp"

#include <cerrno>
#include <stdexcept>

#include "examples/report/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace sg::figures {
namespace {

const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

}  // namespace

std::string npy(const float* data, const std::vector<long>& shape) {
  static_assert(std::numeric_limits<float>::is_iec559, "npy: float must be IEEE 754 binary32");
  std::string dims;
  long count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dims += (i ? ", " : "") + std::to_string(shape[i]);
    count *= shape[i];
  }
  if (shape.size() == 1) dims += ",";  // a 1-tuple is written (n,)
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + header length (2) + header, padded with spaces and ended by a
  // newline so the data starts on a 64-byte boundary.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(data), std::size_t(count) * sizeof(float));
  return out;
}

std::string latent_svg(const Matrix<float>& z, const Matrix<float>& rgb, int dim_x, int dim_y,
                       const std::string& title) {
  const double size = 420, half = size / 2, scale = half / 1.6;  // [-1.6, 1.6] on each axis
  std::string svg;
  append(svg,
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
         "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
         size, size + 30, size, size + 30);
  append(svg, "<rect width=\"100%%\" height=\"100%%\" fill=\"#f8f8f8\"/>\n");
  svg += "<text x=\"8\" y=\"18\">" + escape(title) + "</text>\n";
  append(svg, "<g transform=\"translate(0,30)\">\n");
  append(svg, "<line x1=\"0\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>\n", half, size, half);
  append(svg, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>\n", half, half, size);
  append(svg,
         "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"none\" stroke=\"#888\" "
         "stroke-dasharray=\"5,4\"/>\n",
         half, half, scale);
  append(svg, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#666\">dim %d</text>\n", size - 44, half - 4, dim_x);
  append(svg, "<text x=\"%.1f\" y=\"14\" fill=\"#666\">dim %d</text>\n", half + 4, dim_y);
  for (long i = 0; i < z.rows(); ++i) {
    const double x = half + scale * z(i, dim_x), y = half - scale * z(i, dim_y);
    append(svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"rgb(%d,%d,%d)\" stroke=\"#0003\"/>\n", x, y,
           int(std::lround(255 * rgb(i, 0))), int(std::lround(255 * rgb(i, 1))),
           int(std::lround(255 * rgb(i, 2))));
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

std::string line_chart_svg(const std::vector<Series>& series, bool log_y, const std::string& title,
                           const std::vector<Marker>& markers) {
  const double width = 720, height = 360, left = 70, right = 150, top = 30, bottom = 40;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto transform = [&](double v) { return log_y ? std::log10(v) : v; };
  for (const Series& s : series)
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (log_y && !(s.y[i] > 0)) continue;
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, transform(s.y[i]));
      y1 = std::max(y1, transform(s.y[i]));
    }
  if (!(x1 > x0)) x1 = x0 + 1;
  if (log_y) {
    y0 = std::floor(y0);
    y1 = std::ceil(y1);
  }
  if (!(y1 > y0)) y1 = y0 + 1;
  auto px = [&](double x) { return left + plot_w * (x - x0) / (x1 - x0); };
  auto py = [&](double y) { return top + plot_h * (1 - (transform(y) - y0) / (y1 - y0)); };

  std::string svg;
  append(svg,
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
         "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n",
         width, height, width, height);
  append(svg, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  svg += "<text x=\"8\" y=\"18\" font-size=\"13\">" + escape(title) + "</text>\n";
  append(svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>\n",
         left, top, plot_w, plot_h);
  // Y ticks: decades on a log axis, five steps on a linear one.
  const int ticks = log_y ? int(y1 - y0) : 5;
  for (int t = 0; t <= ticks; ++t) {
    const double v = y0 + (y1 - y0) * t / ticks;
    const double y = top + plot_h * (1 - double(t) / ticks);
    append(svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", left, y,
           left + plot_w, y);
    if (log_y) append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>\n", left - 4, y + 4, int(v));
    else append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", left - 4, y + 4, v);
  }
  for (int t = 0; t <= 4; ++t) {
    const double v = x0 + (x1 - x0) * t / 4;
    append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", px(v), top + plot_h + 15, v);
  }
  append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">step</text>\n", left + plot_w / 2,
         height - 6);
  for (const Marker& m : markers) {
    if (!(m.x >= x0 && m.x <= x1)) continue;
    append(svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"4,3\">",
           px(m.x), top, px(m.x), top + plot_h, kPalette[m.color % 10]);
    svg += "<title>" + escape(m.label) + ": step " + std::to_string(long(m.x)) + "</title></line>\n";
  }
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const char* color = kPalette[k % 10];
    std::string path;
    bool pen_down = false;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if ((log_y && !(s.y[i] > 0)) || !std::isfinite(s.y[i])) {
        pen_down = false;
        continue;
      }
      append(path, "%c%.1f,%.1f", pen_down ? 'L' : 'M', px(s.x[i]), py(s.y[i]));
      pen_down = true;
    }
    svg += "<path fill=\"none\" stroke-width=\"1.2\" stroke=\"" + std::string(color) + "\" d=\"" + path + "\"/>\n";
    append(svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>\n", left + plot_w + 10,
           top + 16.0 * double(k), color);
    append(svg, "<text x=\"%.1f\" y=\"%.1f\">", left + plot_w + 24, top + 16.0 * double(k) + 9);
    svg += escape(s.name) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

std::string report_html(const std::string& title, const std::string& data_json) {
  std::string html = R"HTML(<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>)HTML" + escape(title) + R"HTML(</title>
<style>
body { font-family: sans-serif; margin: 16px; color: #222; }
.row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
canvas { background: #f8f8f8; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; }
td { padding: 2px 8px; border-bottom: 1px solid #eee; }
#controls { margin: 8px 0; }
</style></head><body>
<h2>)HTML" + escape(title) + R"HTML(</h2>
<div id="controls">
  <button id="play">play</button>
  <input id="slider" type="range" min="0" value="0" style="width: 420px">
  <span id="label"></span>
  projection <select id="proj"></select>
</div>
<div class="row">
  <canvas id="latent" width="440" height="440"></canvas>
  <div>
    <canvas id="curves" width="640" height="260"></canvas><br>
    <canvas id="sched" width="640" height="200"></canvas>
  </div>
  <table id="summary"></table>
</div>
<script>
const DATA = )HTML" + data_json + R"HTML(;
const palette = ["#1f77b4","#d62728","#2ca02c","#9467bd","#ff7f0e","#8c564b","#e377c2","#17becf","#7f7f7f","#bcbd22"];
const slider = document.getElementById("slider"), label = document.getElementById("label");
const proj = document.getElementById("proj");
slider.max = DATA.snapshots.length - 1;
for (let d = 0; d < DATA.dims; ++d) if (d !== 1) {
  const o = document.createElement("option"); o.value = d; o.text = "dim 1 / dim " + d; proj.add(o);
}
function drawLatent(s) {
  const c = document.getElementById("latent"), g = c.getContext("2d"), w = c.width, h = c.height;
  const half = w / 2, scale = half / 1.6, k = DATA.dims, z = DATA.snapshots[s].z, dy = +proj.value;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = "#ccc"; g.beginPath(); g.moveTo(0, half); g.lineTo(w, half); g.moveTo(half, 0); g.lineTo(half, h); g.stroke();
  g.setLineDash([5, 4]); g.strokeStyle = "#888"; g.beginPath(); g.arc(half, half, scale, 0, 2 * Math.PI); g.stroke(); g.setLineDash([]);
  for (let i = 0; i < DATA.colors.length; ++i) {
    const col = DATA.colors[i];
    g.fillStyle = "rgb(" + col.map(v => Math.round(255 * v)).join(",") + ")";
    g.beginPath(); g.arc(half + scale * z[i * k + 1], half - scale * z[i * k + dy], 4, 0, 2 * Math.PI); g.fill();
  }
  g.fillStyle = "#666"; g.fillText("dim 1", w - 40, half - 4); g.fillText("dim " + dy, half + 4, 12);
}
function drawChart(id, chart, logY, cursorStep) {
  const c = document.getElementById(id), g = c.getContext("2d"), w = c.width, h = c.height;
  const L = 56, R = 130, T = 10, B = 22, pw = w - L - R, ph = h - T - B;
  const f = v => logY ? Math.log10(v) : v;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of chart.series) for (let i = 0; i < s.y.length; ++i) {
    const v = s.y[i]; if (!(logY ? v > 0 : isFinite(v))) continue;
    x0 = Math.min(x0, chart.steps[i]); x1 = Math.max(x1, chart.steps[i]);
    y0 = Math.min(y0, f(v)); y1 = Math.max(y1, f(v));
  }
  if (logY) { y0 = Math.floor(y0); y1 = Math.ceil(y1); }
  if (!(y1 > y0)) y1 = y0 + 1; if (!(x1 > x0)) x1 = x0 + 1;
  const px = x => L + pw * (x - x0) / (x1 - x0), py = v => T + ph * (1 - (f(v) - y0) / (y1 - y0));
  g.clearRect(0, 0, w, h); g.strokeStyle = "#999"; g.strokeRect(L, T, pw, ph);
  g.fillStyle = "#444"; g.font = "10px sans-serif";
  const ticks = logY ? Math.min(y1 - y0, 12) : 4;
  for (let t = 0; t <= ticks; ++t) {
    const v = y0 + (y1 - y0) * t / ticks, y = T + ph * (1 - t / ticks);
    g.fillText(logY ? "1e" + Math.round(v) : v.toPrecision(3), 4, y + 3);
  }
  chart.series.forEach((s, k) => {
    g.strokeStyle = palette[k % 10]; g.beginPath(); let down = false;
    for (let i = 0; i < s.y.length; ++i) {
      const v = s.y[i]; if (!(logY ? v > 0 : isFinite(v))) { down = false; continue; }
      if (down) g.lineTo(px(chart.steps[i]), py(v)); else g.moveTo(px(chart.steps[i]), py(v)); down = true;
    }
    g.stroke(); g.fillStyle = palette[k % 10]; g.fillText(s.name, L + pw + 8, T + 12 * k + 9);
  });
  g.strokeStyle = "#000"; g.beginPath(); g.moveTo(px(cursorStep), T); g.lineTo(px(cursorStep), T + ph); g.stroke();
}
function show(s) {
  const step = DATA.snapshots[s].step;
  label.textContent = "step " + step;
  drawLatent(s);
  drawChart("curves", DATA.curves, true, step);
  drawChart("sched", DATA.schedule, true, step);
}
let timer = null;
document.getElementById("play").onclick = function () {
  if (timer) { clearInterval(timer); timer = null; this.textContent = "play"; return; }
  this.textContent = "pause";
  timer = setInterval(() => {
    const next = (+slider.value + 1) % DATA.snapshots.length; slider.value = next; show(next);
  }, 120);
};
slider.oninput = () => show(+slider.value);
proj.onchange = () => show(+slider.value);
const table = document.getElementById("summary");
for (const [k, v] of Object.entries(DATA.summary)) {
  const tr = table.insertRow(); tr.insertCell().textContent = k;
  tr.insertCell().textContent = typeof v === "number" ? +v.toPrecision(5) : JSON.stringify(v);
}
show(DATA.snapshots.length - 1); slider.value = DATA.snapshots.length - 1;
</script></body></html>
)HTML";
  return html;
}

void write_file_atomically(const std::string& path, std::string_view contents) {
  const std::string temporary = path + ".tmp";
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
