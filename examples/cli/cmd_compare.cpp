// `spheregrad compare`: trains experiments (or reads finished runs) and writes one comparison: the loss
// curves aligned on steps with every phase start marked, the loss spike at each phase start,
// the logged loss magnitudes of every term, the final metrics side by side and, with
// --probe-every, the radial and tangential parts of each term's gradient (the repulsion
// conflict). Ex 1.6 (smooth against stepped) and the repulsion variants of Ex 1.5 use it.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "examples/report/svg.hpp"
#include "examples/cli/cli.hpp"
#include "examples/report/figures.hpp"
#include "examples/experiment/train.hpp"
#include "schedule/dopesheet.hpp"

namespace sg::cli {
namespace {

using figures::append;

// The columns of a run's metrics.csv, by name.
struct Curves {
  std::vector<std::string> names;
  std::vector<std::vector<double>> columns;
  const std::vector<double>* find(const std::string& name) const {
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return &columns[i];
    return nullptr;
  }
};

Curves read_curves(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open the file");
  Curves c;
  std::string line;
  std::getline(in, line);
  std::stringstream header(line);
  for (std::string cell; std::getline(header, cell, ',');) c.names.push_back(cell);
  c.columns.resize(c.names.size());
  while (std::getline(in, line)) {
    std::size_t begin = 0;
    for (std::size_t k = 0; k < c.names.size(); ++k) {
      const std::size_t end = std::min(line.find(',', begin), line.size());
      const std::string cell = line.substr(begin, end - begin);
      c.columns[k].push_back(cell.empty() ? NAN : std::strtod(cell.c_str(), nullptr));
      begin = end + 1;
    }
  }
  return c;
}


std::string number(double v) {
  if (!std::isfinite(v)) return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", v);
  return buffer;
}

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return NAN;
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// A table kept as rows of cells, written as Markdown and as HTML.
struct Table {
  Table(std::string t, std::vector<std::string> h) : title(std::move(t)), head(std::move(h)) {}
  std::string title;
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;
  std::string markdown() const {
    std::string out = "### " + title + "\n\n|";
    for (const std::string& h : head) out += " " + h + " |";
    out += "\n|";
    for (std::size_t i = 0; i < head.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& r : rows) {
      out += "|";
      for (const std::string& c : r) out += " " + c + " |";
      out += "\n";
    }
    return out + "\n";
  }
  std::string html() const {
    std::string out = "<h2>" + figures::escape(title) + "</h2>\n<table class=\"metrics\"><tr>";
    for (const std::string& h : head) out += "<th>" + figures::escape(h) + "</th>";
    out += "</tr>\n";
    for (const auto& r : rows) {
      out += "<tr>";
      for (const std::string& c : r) out += "<td>" + figures::escape(c) + "</td>";
      out += "</tr>\n";
    }
    return out + "</table>\n";
  }
};

struct RunData {
  std::string preset;
  train::Result result;
  Curves curves;
  std::vector<int> phase_starts;  // every phase instance's first step after 0
  std::vector<std::string> terms;  // regularizer names as logged
};

// Mean of each window of `stride` finite values: 10^4 noisy steps become about 500 points.
figures::Series windowed(const std::string& name, const std::vector<double>& v, std::size_t stride) {
  figures::Series s{name, {}, {}};
  for (std::size_t begin = 0; begin < v.size(); begin += stride) {
    double sum = 0;
    int n = 0;
    for (std::size_t i = begin; i < std::min(v.size(), begin + stride); ++i)
      if (std::isfinite(v[i])) sum += v[i], ++n;
    s.x.push_back(double(begin));
    s.y.push_back(n ? sum / n : NAN);
  }
  return s;
}

struct Settings {
  std::vector<std::string> runs;  // built-in names, experiment files, finished run folders
  ExperimentOverrides overrides;  // for the experiments trained here
  train::Options base;            // probe_every of every run trained here
  std::string out;
  bool quiet = false, overwrite = false;
};

bool is_run_folder(const std::string& what) { return std::filesystem::is_regular_file(what + "/experiment.json"); }

// The name a run has in the tables: an experiment's label, or a folder's own name.
std::string display_name(const std::string& what, const train::Experiment& e) {
  if (!is_run_folder(what)) return e.label();
  const std::filesystem::path p = std::filesystem::path(what).lexically_normal();
  return (p.filename().empty() ? p.parent_path() : p).filename().string();
}

int compare(const Settings& s) {
  if (s.runs.size() < 2) throw CLI::ValidationError("compare needs at least two experiments or run folders");
  // Every experiment and folder is read before any training, so that a bad one fails first.
  std::vector<train::Experiment> experiments;
  std::vector<std::string> names;
  for (const std::string& what : s.runs) {
    experiments.push_back(is_run_folder(what) ? train::load_run(what).experiment
                                              : train::load_experiment(what, s.overrides.get()));
    names.push_back(display_name(what, experiments.back()));
  }
  std::string out = s.out;
  if (out.empty()) out = "out/compare-" + names[0] + "-vs-" + names[1] + "-seed" + std::to_string(experiments[0].seed);
  refuse_to_overwrite(out + "/comparison.md", s.overwrite);
  std::filesystem::create_directories(out);

  std::vector<RunData> runs;
  for (std::size_t k = 0; k < s.runs.size(); ++k) {
    RunData r;
    r.preset = names[k];
    std::string dir = s.runs[k];
    if (is_run_folder(dir)) {
      r.result = train::load_run(dir).result;
    } else {
      train::Options o = s.base;
      o.experiment = experiments[k];
      o.out = dir = out + "/runs/" + names[k];
      o.overwrite = true;  // the comparison owns its run folders
      o.quiet = s.quiet;   // the run's progress bar, on a terminal
      if (!s.quiet) std::printf("training %s (seed %llu) ...\n", names[k].c_str(), o.experiment.seed);
      r.result = train::run(o);
    }
    r.curves = read_curves(dir + "/metrics.csv");
    const schedule::Dopesheet sheet = schedule::parse_dopesheet(experiments[k].dopesheet);
    for (const schedule::PhaseInstance& ph : sheet.phases)
      if (ph.start > 0 && ph.start < r.result.steps) r.phase_starts.push_back(ph.start);
    for (const std::string& n : r.curves.names)
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ":raw") == 0) r.terms.push_back(n.substr(0, n.size() - 4));
    runs.push_back(std::move(r));
  }

  // Curves aligned on steps, phase starts marked (dashed, one color per run).
  std::vector<figures::Marker> markers;
  for (std::size_t k = 0; k < runs.size(); ++k)
    for (int s : runs[k].phase_starts) markers.push_back({double(s), runs[k].preset, int(k)});
  for (const char* what : {"total", "recon"}) {
    std::vector<figures::Series> series;
    for (const RunData& r : runs) {
      const std::vector<double>& v = *r.curves.find(what);
      series.push_back(windowed(r.preset, v, std::max<std::size_t>(1, v.size() / 1000)));
    }
    figures::write_file_atomically(out + "/" + what + ".svg",
                          figures::line_chart_svg(series, true,
                                                  std::string(what) + " loss (window means); dashed: phase starts",
                                                  markers));
  }

  // The spike at each phase start: the largest total in the 50 steps from the start, over the
  // median of the 100 steps before it.
  Table spikes{"Loss at phase starts (max of the 50 steps from the start / median of the 100 before)",
               {"run", "phase start", "total before (median)", "total after (max)", "ratio", "recon ratio"}};
  for (const RunData& r : runs) {
    const std::vector<double>& total = *r.curves.find("total");
    const std::vector<double>& recon = *r.curves.find("recon");
    for (int s : r.phase_starts) {
      auto window = [&](const std::vector<double>& v, int a, int b) {
        return std::vector<double>(v.begin() + std::max(0, a), v.begin() + std::min<long>(long(v.size()), b));
      };
      const std::vector<double> before = window(total, s - 100, s), after = window(total, s, s + 50);
      const double b = median(before), a = *std::max_element(after.begin(), after.end());
      const std::vector<double> rb = window(recon, s - 100, s), ra = window(recon, s, s + 50);
      const double rratio = *std::max_element(ra.begin(), ra.end()) / median(rb);
      spikes.rows.push_back({r.preset, std::to_string(s), number(b), number(a), number(a / b), number(rratio)});
    }
  }

  // Noise: the spread of log10(recon) in windows of 500 steps, per run.
  Table noise{"Noise of the reconstruction loss: standard deviation of log10(recon) per 500-step window",
              {"steps"}};
  for (const RunData& r : runs) noise.head.push_back(r.preset);
  const std::size_t length = runs[0].curves.find("recon")->size();
  for (std::size_t begin = 0; begin < length; begin += 500) {
    std::vector<std::string> row = {std::to_string(begin) + "-" + std::to_string(std::min(length, begin + 500) - 1)};
    for (const RunData& r : runs) {
      const std::vector<double>& v = *r.curves.find("recon");
      double sum = 0, sum2 = 0;
      int n = 0;
      for (std::size_t i = begin; i < std::min(v.size(), begin + 500); ++i)
        if (v[i] > 0) sum += std::log10(v[i]), sum2 += std::log10(v[i]) * std::log10(v[i]), ++n;
      row.push_back(n > 1 ? number(std::sqrt(std::max(0.0, sum2 / n - (sum / n) * (sum / n)))) : "-");
    }
    noise.rows.push_back(row);
  }

  // The logged magnitudes: each term's largest raw and weighted value, and where.
  Table magnitudes{"Logged loss magnitudes (largest value over the run, and its step)",
                   {"run", "term", "max raw", "at step", "max weighted", "at step", "final raw"}};
  for (const RunData& r : runs) {
    std::vector<std::pair<std::string, std::string>> columns = {{"total", "total"}, {"recon", "recon"}};
    for (const std::string& t : r.terms) columns.push_back({t, t + ":raw"});
    for (const auto& [term, raw_name] : columns) {
      const std::vector<double>& raw = *r.curves.find(raw_name);
      const std::vector<double>* weighted = r.curves.find(term + ":weighted");
      int at = -1, wat = -1;
      double best = -INFINITY, wbest = -INFINITY, last = NAN;
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (std::isfinite(raw[i]) && raw[i] > best) best = raw[i], at = int(i);
        if (weighted && std::isfinite((*weighted)[i]) && (*weighted)[i] > wbest) wbest = (*weighted)[i], wat = int(i);
        if (std::isfinite(raw[i])) last = raw[i];
      }
      magnitudes.rows.push_back({r.preset, term, number(at < 0 ? NAN : best), at < 0 ? "-" : std::to_string(at),
                                 weighted ? number(wat < 0 ? NAN : wbest) : "-",
                                 weighted && wat >= 0 ? std::to_string(wat) : "-", number(last)});
    }
  }

  // Final metrics side by side.
  Table finals{"Final metrics", {"metric"}};
  for (const RunData& r : runs) finals.head.push_back(r.preset);
  auto add = [&](const std::string& name, auto get) {
    std::vector<std::string> row = {name};
    for (const RunData& r : runs) row.push_back(get(r.result));
    finals.rows.push_back(row);
  };
  add("training loss (last step)", [](const train::Result& r) { return number(r.final_total); });
  add("recon (last batch)", [](const train::Result& r) { return number(r.final_recon); });
  add("recon MSE, RGB 8^3", [](const train::Result& r) { return number(r.metrics.recon_mse_validation); });
  add("hue order, 360 hues", [](const train::Result& r) {
    return std::to_string(r.metrics.hue_inversions) + " inv., winding " + std::to_string(r.metrics.hue_winding);
  });
  add("hue order, 36 hues", [](const train::Result& r) {
    return std::to_string(r.metrics.hue_inversions_36) + " inv., winding " + std::to_string(r.metrics.hue_winding_36);
  });
  add("red cos to +dim0", [](const train::Result& r) { return number(r.metrics.red_cosine); });
  add("radius mean / std", [](const train::Result& r) {
    return number(r.metrics.radius_mean) + " / " + number(r.metrics.radius_std);
  });
  add("largest fold / gap (deg)", [](const train::Result& r) {
    return number(r.metrics.fold_deg) + " / " + number(r.metrics.gap_deg);
  });
  add("planarity (vibrant)", [](const train::Result& r) { return number(r.metrics.planarity_vibrant); });
  add("hue resultant", [](const train::Result& r) { return number(r.metrics.hue_resultant); });
  add("spacing of primaries (deg)", [](const train::Result& r) {
    std::string s;
    for (double d : r.metrics.spacing_deg) {
      if (!s.empty()) s += ' ';
      s += number(std::abs(d));
    }
    return s;
  });
  const color::ColorSet named = color::named_colors();
  for (int i = 0; i < named.size(); ++i)
    add("recon MSE " + named.name[i], [i](const train::Result& r) { return number(r.metrics.recon_mse_named[i]); });

  // Gradient parts, averaged over the probe steps where each term was computed.
  Table gradients{"Gradient of each weighted term with respect to the latents, mean over the probe steps where the "
                  "term was computed and the rows it acts on (gradients.csv: every probe, to compare terms step by step)",
                  {"run", "term", "probes", "radial (signed, + = inward)", "abs radial", "abs tangential",
                   "radial cosine"}};
  std::string probes_csv = "preset,step,term,weight,raw,rows,radial,radial_abs,tangential_abs,radial_cosine\n";
  for (const RunData& r : runs) {
    std::map<std::string, std::vector<const train::GradientProbe*>> by_term;
    std::vector<std::string> order;
    for (const train::GradientProbe& p : r.result.probes) {
      if (!by_term.count(p.term)) order.push_back(p.term);
      by_term[p.term].push_back(&p);
      append(probes_csv, "%s,%d,%s,%.9g,%.9g,%d,%.9g,%.9g,%.9g,%.9g\n", r.preset.c_str(), p.step, p.term.c_str(),
             p.weight, p.raw, p.rows, p.radial, p.radial_abs, p.tangential_abs, p.radial_cosine);
    }
    for (const std::string& t : order) {
      double radial = 0, ra = 0, ta = 0, cosine = 0;
      for (const train::GradientProbe* p : by_term[t])
        radial += p->radial, ra += p->radial_abs, ta += p->tangential_abs, cosine += p->radial_cosine;
      const double n = double(by_term[t].size());
      gradients.rows.push_back({r.preset, t, std::to_string(by_term[t].size()), number(radial / n), number(ra / n),
                                number(ta / n), number(cosine / n)});
    }
  }

  std::string title = "Comparison:";
  for (const std::string& n : names) title += " " + n;
  title += " (seed";
  for (const train::Experiment& e : experiments) title += " " + std::to_string(e.seed);
  title += ")";
  std::string md = "# " + title + "\n\nRun folders: ";
  for (std::size_t k = 0; k < runs.size(); ++k) md += (k ? ", " : "") + runs[k].result.out_dir;
  md += " (each with its report.html). Curves: total.svg, recon.svg.\n\n";
  // The page: each run's own report data (its latents, curves, schedule, metrics), side by side,
  // then the tables above.
  nlohmann::json page = {{"kind", "comparison"}, {"title", title}, {"runs", nlohmann::json::array()}};
  for (const RunData& r : runs)
    page["runs"].push_back({{"name", r.preset}, {"data", figures::report_data(r.result.out_dir + "/report.html")}});
  std::string tables_html;
  std::vector<const Table*> tables = {&spikes, &magnitudes};
  if (s.base.probe_every > 0) tables.push_back(&gradients);
  tables.push_back(&noise);
  md += finals.markdown();
  for (const Table* t : tables) md += t->markdown(), tables_html += t->html();
  page["tables"] = tables_html;
  const std::string html = figures::report_html(title, page.dump());
  figures::write_file_atomically(out + "/comparison.md", md);
  figures::write_file_atomically(out + "/comparison.html", html);
  if (s.base.probe_every > 0) figures::write_file_atomically(out + "/gradients.csv", probes_csv);
  if (!s.quiet) std::printf("\n%s\ncomparison in %s/ (open comparison.html)\n", md.c_str(), out.c_str());
  return 0;
}

}  // namespace

void add_compare(CLI::App& program, int& exit_code) {
  auto s = std::make_shared<Settings>();
  s->base.quiet = true;  // the runs themselves; --quiet silences the comparison
  CLI::App* command = program.add_subcommand(
      "compare", "compare experiments or finished runs side by side: aligned curves, spikes, gradient parts");
  command->add_option("runs", s->runs, "built-in experiments, experiment files (.json) or finished run folders")
      ->type_name("WHAT...");
  command->add_option("--presets", s->runs, "the same, comma-separated (known: " + known_experiments() + ")")
      ->type_name("LIST")
      ->delimiter(',')
      ->allow_extra_args(false);
  s->overrides.add_to(*command, true);
  add_integer(*command, "--probe-every", s->base.probe_every, 0,
              "split every term's gradient every N steps (default 0: never)");
  command->add_option("--out", s->out, "comparison folder (default out/compare-<A>-vs-<B>-seed<N>)")->type_name("DIR");
  command->add_flag("--quiet", s->quiet, "print nothing on stdout");
  command->add_flag("--overwrite", s->overwrite, "replace an earlier comparison in the folder (refused otherwise)");
  command->footer(
      "Trains each experiment (each into its own run folder under the comparison's; --set and\n"
      "the other experiment options apply to every one) and reads each finished run folder as\n"
      "it is, then writes a comparison: comparison.md and comparison.html (loss curves aligned\n"
      "on steps with the phase starts marked, the loss spike at each phase start, the logged\n"
      "magnitude of every term, the final metrics side by side), total.svg and recon.svg, and\n"
      "with --probe-every gradients.csv: the radial and tangential parts of each weighted term's\n"
      "gradient with respect to the latents (for the runs trained here), at every probe step,\n"
      "averaged over the rows the term acts on (a selective term's selected samples).\n"
      "\n"
      "Examples: the Ex 1.6 report, the repulsion conflict, a custom run against the stock one:\n"
      "  spheregrad compare ex-1.6-smooth ex-1.6-stepped\n"
      "  spheregrad compare ex-1.5 ex-1.5-original ex-1.5-angular --probe-every 25\n"
      "  spheregrad compare out/ex-1.7-seed0 out/ex-1.7-1a2b3c4d-seed0");
  command->callback([s, &exit_code] { exit_code = compare(*s); });
}

}  // namespace sg::cli
