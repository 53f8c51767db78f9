// `spheregrad schedule FILE.csv [--steps LIST] [--svg OUT.svg]`: realize a dopesheet.
// Prints what a training run would read at each step, so a schedule can be checked (or
// diffed against the original tool) before any training; --svg draws it.
#include "examples/cmd_schedule.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#include "examples/cli.hpp"
#include "schedule/timeline.hpp"

namespace sg::cli {

namespace {

using schedule::Dopesheet;
using schedule::Space;
using schedule::Timeline;

// Quoted when a reader would split it or trim it.
std::string csv_field(std::string_view text) {
  const bool padded = !text.empty() && (std::strchr(" \t", text.front()) || std::strchr(" \t", text.back()));
  if (text.find_first_of(",\"\r\n") == std::string_view::npos && !padded) return std::string(text);
  std::string out = "\"";
  for (char ch : text) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

std::string xml_text(std::string_view text) {
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

template <class... Args>
void append(std::string& out, const char* format, Args... args) {
  const int n = std::snprintf(nullptr, 0, format, args...);
  if (n <= 0) return;
  const std::size_t at = out.size();
  out.resize(at + n + 1);  // room for snprintf's terminating zero, dropped below
  std::snprintf(out.data() + at, n + 1, format, args...);
  out.resize(at + n);
}

}  // namespace

void write_schedule_csv(const Dopesheet& sheet, std::span<const int> steps, std::FILE* out) {
  std::string line = "step,phase";
  for (const auto& p : sheet.properties) line.append(",").append(csv_field(p.name));
  std::fprintf(out, "%s\n", line.c_str());
  Timeline timeline(sheet);
  const int last = steps.empty() ? sheet.length - 1 : steps.back();
  std::size_t wanted = 0;
  for (int s = 0; s <= last; ++s, timeline.step()) {
    if (!steps.empty()) {
      if (steps[wanted] != s) continue;
      ++wanted;
    }
    line = std::to_string(s) + "," + csv_field(timeline.phase());
    for (double v : timeline.values()) append(line, ",%.17g", v);
    std::fprintf(out, "%s\n", line.c_str());
  }
}

std::vector<int> parse_step_list(std::string_view list, int length) {
  std::vector<int> steps;
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string_view item = list.substr(start, comma - start);
    int step = -1;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), step);
    if (item.empty() || error != std::errc() || end != item.data() + item.size() || step < 0)
      throw std::invalid_argument("--steps: expected a comma-separated list of steps, got \"" + std::string(item) +
                                  "\"");
    if (step >= length)
      throw std::invalid_argument("--steps: step " + std::to_string(step) +
                                  " is past the end of the schedule (last step " + std::to_string(length - 1) + ")");
    steps.push_back(step);
    start = comma + 1;
  }
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

std::string schedule_svg(const Dopesheet& sheet) {
  constexpr double kWidth = 960, kLeft = 170, kRight = 24, kTop = 52, kPanel = 72, kGap = 14, kBottom = 40;
  constexpr int kColumns = int(kWidth - kLeft - kRight);  // one min/max bucket per pixel column
  const double plot_width = kWidth - kLeft - kRight;
  const std::size_t n = sheet.properties.size();
  const double panels_bottom = kTop + std::max<double>(1, n) * (kPanel + kGap) - kGap;
  const double height = panels_bottom + kBottom;
  const int last = sheet.length - 1;
  // Step s trains with one value over [s, s+1): the x axis spans [0, length] and curves are stairs.
  auto x_of = [&](double step) { return kLeft + std::min(step / sheet.length, 1.0) * plot_width; };
  auto plotted = [&](std::size_t p, double v) {
    return sheet.properties[p].space == Space::log ? std::log10(std::max(v, schedule::kLogFloor)) : v;
  };

  // First, min, max and last value per pixel column (M4): exact corners, bounded output size.
  struct Bucket {
    int first_step = -1, last_step = 0, min_step = 0, max_step = 0;
    double first = 0, last = 0, min = 0, max = 0;
  };
  std::vector<std::vector<Bucket>> buckets(n, std::vector<Bucket>(kColumns));
  std::vector<double> lo(n, std::numeric_limits<double>::infinity()), hi(n, -std::numeric_limits<double>::infinity());
  Timeline timeline(sheet);
  for (int s = 0; s <= last; ++s, timeline.step()) {
    const int column = std::min(kColumns - 1, int(double(s) / sheet.length * kColumns));
    for (std::size_t p = 0; p < n; ++p) {
      const double y = plotted(p, timeline.value(p));
      Bucket& b = buckets[p][column];
      if (b.first_step < 0) b = {s, s, s, s, y, y, y, y};
      b.last_step = s, b.last = y;
      if (y < b.min) b.min = y, b.min_step = s;
      if (y > b.max) b.max = y, b.max_step = s;
      lo[p] = std::min(lo[p], y), hi[p] = std::max(hi[p], y);
    }
  }

  std::string svg;
  append(svg,
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
         "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
         kWidth, height, kWidth, height);
  svg += "<title>" + xml_text(sheet.source) + "</title>\n";

  for (std::size_t i = 0; i < sheet.phases.size(); ++i) {
    const auto& phase = sheet.phases[i];
    const double x0 = x_of(phase.start), x1 = x_of(phase.end + 1.0);
    append(svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">", x0, kTop - 40, x1 - x0,
           panels_bottom - kTop + 40, i % 2 ? "#fbf3e6" : "#e9f0fa");
    append(svg, "<title>%s (steps %d-%d)</title></rect>\n", xml_text(phase.name).c_str(), phase.start, phase.end);
    if (x1 - x0 > 6.0 * phase.name.size())  // roughly the width of the label at 11px
      append(svg, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#334\">%s</text>\n", x0 + 4, kTop - 28,
             xml_text(phase.name).c_str());
  }
  for (const auto& action : sheet.actions) {
    std::string names;
    for (const auto& e : action.events) names += (names.empty() ? "" : ", ") + e;
    const double x = x_of(action.step);
    append(svg, "<g stroke=\"#b03030\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
           "stroke-dasharray=\"4 3\"/>", x, kTop - 18, x, panels_bottom);
    append(svg, "<title>%s at step %d</title></g>\n", xml_text(names).c_str(), action.step);
    append(svg, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#b03030\">%s</text>\n", x + 3, kTop - 10, xml_text(names).c_str());
  }

  for (std::size_t p = 0; p < n; ++p) {
    const auto& property = sheet.properties[p];
    const double top = kTop + p * (kPanel + kGap), bottom = top + kPanel;
    const double span = hi[p] - lo[p];
    auto y_of = [&](double v) {
      return span > 0 ? bottom - 4 - (v - lo[p]) / span * (kPanel - 8) : (top + bottom) / 2;
    };
    auto shown = [&](double v) { return property.space == Space::log ? std::pow(10.0, v) : v; };
    append(svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>\n", kLeft,
           top, plot_width, kPanel);
    append(svg, "<text x=\"8\" y=\"%.1f\" font-size=\"12\" font-weight=\"bold\">%s</text>\n", top + kPanel / 2,
           xml_text(property.name).c_str());
    append(svg, "<text x=\"8\" y=\"%.1f\" fill=\"#666\">%s, %s</text>\n", top + kPanel / 2 + 14,
           schedule::to_string(property.space), schedule::to_string(property.timing));
    append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#444\">%.3g</text>\n", kLeft - 6, top + 10,
           shown(hi[p]));
    if (span > 0)
      append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#444\">%.3g</text>\n", kLeft - 6,
             bottom - 2, shown(lo[p]));
    if (property.space == Space::log)  // decade grid lines make a log axis readable
      for (double decade = std::ceil(lo[p]); decade <= hi[p] && span > 0; ++decade)
        append(svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", kLeft, y_of(decade),
               kLeft + plot_width, y_of(decade));
    svg += "<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"1.5\" points=\"";
    int previous_step = -1;
    double previous_y = 0.0;
    for (const Bucket& b : buckets[p]) {
      if (b.first_step < 0) continue;
      std::pair<int, double> corners[4] = {
          {b.first_step, b.first}, {b.min_step, b.min}, {b.max_step, b.max}, {b.last_step, b.last}};
      std::sort(corners, corners + 4);
      for (const auto& [step, y] : corners) {
        if (step == previous_step) continue;
        if (previous_step >= 0) append(svg, "%.1f,%.1f ", x_of(step), y_of(previous_y));
        append(svg, "%.1f,%.1f ", x_of(step), y_of(y));
        previous_step = step, previous_y = y;
      }
    }
    append(svg, "%.1f,%.1f\"/>\n", x_of(sheet.length), y_of(previous_y));
  }

  // Step axis at 1, 2 or 5 times a power of ten, about eight ticks.
  const double raw = std::max(1.0, last / 8.0), magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double interval = raw <= magnitude ? magnitude : raw <= 2 * magnitude ? 2 * magnitude
                        : raw <= 5 * magnitude ? 5 * magnitude : 10 * magnitude;
  for (double s = 0; s <= std::max(last, 0); s += interval) {
    append(svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>", x_of(s), panels_bottom,
           x_of(s), panels_bottom + 5);
    append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", x_of(s), panels_bottom + 17, s);
  }
  append(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\">step</text>\n</svg>\n",
         kLeft + plot_width / 2, panels_bottom + 33);
  return svg;
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

namespace {

struct Settings {
  std::string file, step_list, svg_path;
};

int schedule(const CLI::App& command, const Settings& s) {
  const bool listed = command.count("--steps") > 0;
  const Dopesheet sheet = schedule::load_dopesheet(s.file);
  const std::vector<int> steps = listed ? parse_step_list(s.step_list, sheet.length) : std::vector<int>();
  if (!s.svg_path.empty()) {
    write_file_atomically(s.svg_path, schedule_svg(sheet));
    std::fprintf(stderr, "spheregrad schedule: wrote %s\n", s.svg_path.c_str());
  }
  if (s.svg_path.empty() || listed) write_schedule_csv(sheet, steps, stdout);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw std::runtime_error("cannot write to stdout");
  return 0;
}

}  // namespace

void add_schedule(CLI::App& program, int& exit_code) {
  auto s = std::make_shared<Settings>();
  CLI::App* command =
      program.add_subcommand("schedule", "realize a dopesheet: every property at every step, as CSV or SVG");
  command->add_option("FILE.csv", s->file, "the dopesheet")->required();
  command->add_option("--steps", s->step_list, "print only these steps, e.g. --steps 0,10,500")->type_name("LIST");
  command->add_option("--svg", s->svg_path,
                      "draw every property over time (log axis for log-space properties), with\n"
                      "phase bands and action markers; the CSV is then printed only with --steps")
      ->type_name("OUT.svg");
  command->footer(
      "Realize a dopesheet (docs/schedule.md): the value of every property at every step, as a\n"
      "training run reads it. Prints CSV to stdout: a header 'step,phase,<properties in column\n"
      "order>' and one row per step, values with 17 significant digits.\n"
      "\n"
      "example: spheregrad schedule examples/experiments/ex-1.7.csv --steps 0,10,5000,7500");
  command->callback([command, s, &exit_code] { exit_code = schedule(*command, *s); });
}

}  // namespace sg::cli
