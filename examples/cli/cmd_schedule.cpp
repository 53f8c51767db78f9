// `spheregrad schedule FILE.csv [--steps LIST] [--svg OUT.svg]`: realize a dopesheet.
// Prints what a training run would read at each step, so a schedule can be checked (or
// diffed against the original tool) before any training; --svg draws it.
#include "examples/cli/cmd_schedule.hpp"

#include "examples/report/figures.hpp"
#include "examples/report/svg.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#include "examples/cli/cli.hpp"
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
    for (double v : timeline.values()) figures::append(line, ",%.17g", v);
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

namespace {

struct Settings {
  std::string file, step_list, svg_path;
};

int schedule(const CLI::App& command, const Settings& s) {
  const bool listed = command.count("--steps") > 0;
  const Dopesheet sheet = schedule::load_dopesheet(s.file);
  const std::vector<int> steps = listed ? parse_step_list(s.step_list, sheet.length) : std::vector<int>();
  if (!s.svg_path.empty()) {
    figures::write_file_atomically(s.svg_path, figures::schedule_svg(sheet));
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
