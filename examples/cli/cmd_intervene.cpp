// `spheregrad intervene RUN_DIR...`: applies one intervention (suppression or repulsion of a
// concept at the bottleneck, ablation or pruning of bottleneck dims) to trained runs, measures
// every color's reconstruction error before and after, scores the precision of the change
// against the HSV similarity to the concept, and writes per run a table, a JSON summary and
// figures (examples/experiment/intervention.hpp) -- plus, for many runs, one row per run.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "examples/cli/cli.hpp"
#include "examples/experiment/intervention.hpp"
#include "examples/report/figures.hpp"

namespace sg::cli {
namespace {

using intervene::Kind, intervene::kind_name, intervene::Outcome;

struct Settings {
  std::vector<std::string> runs;
  intervene::Request request;
  std::string out, name, table;
  bool quiet = false, overwrite = false;
};

std::vector<int> parse_dims(const std::string& option, const std::string& text) {
  std::vector<int> dims;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = text.find(',', begin);
    const std::string part = text.substr(begin, end - begin);
    char* stop = nullptr;
    errno = 0;
    const long d = std::strtol(part.c_str(), &stop, 10);
    if (part.empty() || errno || *stop || d < 0 || d > 1000000)
      throw std::invalid_argument(option + " expects bottleneck dims like 0 or 0,2, got '" + text + "'");
    dims.push_back(int(d));
    if (end == std::string::npos) return dims;
    begin = end + 1;
  }
}

// The one intervention of a command line: `value` is a label for suppress/repel, dims for
// ablate/prune. A second intervention is a usage error.
void choose(intervene::Request& r, Kind kind, const std::string& option, const std::string& value) {
  if (r.kind != Kind::None)
    throw std::invalid_argument(std::string("choose one intervention (got --") + kind_name(r.kind) + " and " + option +
                                ")");
  r.kind = kind;
  if (r.edits_latents()) r.label = value;
  else r.dims = parse_dims(option, value);
}

std::string default_name(const intervene::Request& r) {
  return std::string("intervene-") + kind_name(r.kind) + "-" + (r.edits_latents() ? r.label : r.dims_text());
}

// ------------------------------------------------------------------ many runs

std::string table_header() {
  return "run,experiment,seed,model,kind,target,a0,b,p,score_power,r,r2,red_dmse,cyan_dmse,cube_mse_before,"
         "cube_mse_after,ablate_prune_max_abs_diff\n";
}

std::string table_row(const Outcome& o, const intervene::Request& r) {
  const bool latent = r.edits_latents();
  std::string row = "\"" + o.dir + "\"," + o.experiment + "," + o.seed + ",\"" + o.model + "\"," + kind_name(r.kind) + ",\"" +
                    o.target + "\"";
  for (double v : {latent ? r.falloff.a0 : NAN, latent ? r.falloff.b : NAN, latent ? r.falloff.p : NAN, o.power, o.fit.r,
                   o.fit.r2, o.red_dmse, o.cyan_dmse, o.cube_before, o.cube_after, o.ablate_prune_max_diff})
    row += ',', row += std::isfinite(v) ? figure(v, 9) : std::string();
  return row + "\n";
}

struct Stats {
  double mean = 0, sd = 0, min = INFINITY, max = -INFINITY, median = 0;
};
Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  for (double e : v) s.mean += e / double(v.size()), s.min = std::min(s.min, e), s.max = std::max(s.max, e);
  for (double e : v) s.sd += (e - s.mean) * (e - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0;
  std::sort(v.begin(), v.end());
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return s;
}

int intervene(const CLI::App& command, const Settings& s) {
  const intervene::Request& r = s.request;
  if (r.kind == Kind::None)
    throw CLI::ValidationError("no intervention given: --suppress, --repel, --ablate or --prune");
  const bool latent = r.edits_latents();
  const bool falloff_given = command.count("--a0") || command.count("--b") || command.count("--p");
  if (!latent && falloff_given) throw CLI::ValidationError("--a0, --b and --p shape --suppress and --repel only");
  if (latent && command.count("--concept"))
    throw CLI::ValidationError("--concept is for --ablate, --prune and --zero (--" + std::string(kind_name(r.kind)) +
                               " names its own)");
  if (!s.out.empty() && s.runs.size() > 1)
    throw CLI::ValidationError("--out takes one RUN_DIR; with several, use --name");
  try {
    r.falloff.check();
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(e.what());
  }

  // Every output is checked before anything runs: a run's results are never written (only its
  // report.html gains the intervention), and earlier results are not replaced without --overwrite.
  namespace fs = std::filesystem;
  const auto within = [](const fs::path& inner, const fs::path& outer) {  // inner is outer or below it
    const fs::path a = fs::weakly_canonical(inner), b = fs::weakly_canonical(outer);
    return std::mismatch(b.begin(), b.end(), a.begin(), a.end()).first == b.end();
  };
  std::vector<std::string> outs;
  for (const std::string& dir : s.runs) {
    outs.push_back(!s.out.empty() ? s.out : (fs::path(dir) / (s.name.empty() ? default_name(r) : s.name)).string());
    if (within(dir, outs.back()))
      throw CLI::ValidationError("the output " + outs.back() + " would be the run folder " + dir +
                                 " or hold it: an intervention never writes over a run");
    refuse_to_overwrite(outs.back() + "/summary.json", s.overwrite);
    if (!s.table.empty() && within(fs::path(s.table).parent_path(), dir) && !within(fs::path(s.table).parent_path(), outs.back()))
      throw CLI::ValidationError("--table " + s.table + " is inside the run folder " + dir + ": choose a file outside it");
  }
  if (!s.table.empty()) refuse_to_overwrite(s.table, s.overwrite);
  std::vector<Outcome> outcomes;
  for (std::size_t k = 0; k < s.runs.size(); ++k) {
    const std::string& dir = s.runs[k];
    outcomes.push_back(intervene::run_intervention(dir, r, outs[k]));
    const Outcome& o = outcomes.back();
    if (!s.quiet)
      std::printf("%s: R^2 %.4f (r %+.4f, power %g), red dMSE %+.4f, cyan dMSE %+.5f, cube MSE %.3g -> %.3g%s -> %s/\n",
                  o.title.c_str(), o.fit.r2, o.fit.r, o.power, o.red_dmse, o.cyan_dmse, o.cube_before, o.cube_after,
                  std::isfinite(o.ablate_prune_max_diff)
                      ? (", |ablated - pruned| <= " + figure(o.ablate_prune_max_diff, 2)).c_str()
                      : "",
                  o.out_dir.c_str());
  }
  if (!s.table.empty()) {
    std::string table = table_header();
    for (const Outcome& o : outcomes) table += table_row(o, r);
    figures::write_file_atomically(s.table, table);
  }
  if (!s.quiet && outcomes.size() > 1) {
    std::vector<double> r2, red, cyan;
    for (const Outcome& o : outcomes) r2.push_back(o.fit.r2), red.push_back(o.red_dmse), cyan.push_back(o.cyan_dmse);
    const Stats a = stats(r2), b = stats(red), c = stats(cyan);
    std::printf("\n%zu runs: R^2 mean %.4f (sd %.4f), median %.4f, range %.4f - %.4f\n", outcomes.size(), a.mean, a.sd,
                a.median, a.min, a.max);
    std::printf("  red dMSE mean %+.4f (range %+.4f .. %+.4f); cyan dMSE mean %+.5f (range %+.5f .. %+.5f)\n", b.mean,
                b.min, b.max, c.mean, c.min, c.max);
    if (!s.table.empty()) std::printf("  table: %s\n", s.table.c_str());
  }
  return 0;
}

}  // namespace

void add_intervene(CLI::App& program, int& exit_code) {
  auto s = std::make_shared<Settings>();
  CLI::App* command =
      program.add_subcommand("intervene", "suppress, repel, ablate, prune or zero a concept in trained runs; score it");
  command->add_option("RUN_DIR", s->runs, "trained runs' folders")->required();
  const std::pair<Kind, const char*> interventions[] = {
      {Kind::Suppress, "x' = x - g(a) (x.v) v, a = clamp(x.v, 0, 1), v the concept's direction"},
      {Kind::Repel, "turn x in the plane of (x, v), keeping |x|, to cos(x', v) = a (1 - g(a))"},
      {Kind::Ablate, "zero the bottleneck's producer rows and biases and consumer columns"},
      {Kind::Prune, "delete those dims (a model with a narrower bottleneck)"},
      {Kind::Zero, "zero those dims of the normalized bottleneck, without renormalizing\n"
                   "(subspace suppression: |z'| <= 1)"}};
  for (const auto& [kind, help] : interventions) {
    const std::string name = std::string("--") + kind_name(kind);
    add_converted(*command, name, [s, kind, name](const std::string& v) { choose(s->request, kind, name, v); }, help)
        ->type_name(kind == Kind::Suppress || kind == Kind::Repel ? "LABEL" : "DIMS");
  }
  add_number(*command, "--a0", s->request.falloff.a0,
             "the falloff g(a) = b ((a - a0)/(1 - a0))^p for a > a0, else 0\n"
             "(suppress/repel; default a0 0)");
  add_number(*command, "--b", s->request.falloff.b, "the falloff's b (default 1)");
  add_number(*command, "--p", s->request.falloff.p, "the falloff's p (default 2; 0 removes the whole positive component)");
  command->add_option("--concept", s->request.concept_label,
                      "what the score compares with, for --ablate/--prune/--zero: a concept\n"
                      "(default red) or vibrancy")
      ->type_name("LABEL");
  add_number(*command, "--score-power", s->request.score_power,
             "the score's power of the similarity (default 2 for suppress/repel,\n"
             "3 for ablate/prune/zero)",
             0);
  command->add_option("--out", s->out, "output folder (one run only; default RUN_DIR/<name>)")->type_name("DIR");
  add_converted(
      *command, "--name",
      [s](const std::string& v) {
        if (v.empty() || v == "." || v == ".." || v.find('/') != std::string::npos)
          throw std::invalid_argument("--name expects a folder name (not '.' or '..', without '/'), got '" + v + "'");
        s->name = v;
      },
      "the output folder's name inside each RUN_DIR (default\n"
      "intervene-<kind>-<label or dims>, e.g. intervene-suppress-red)")
      ->type_name("NAME");
  command->add_option("--table", s->table, "one CSV row per run (r, R^2, red and cyan dMSE, ...), for sweeps")
      ->type_name("FILE");
  command->add_flag("--quiet", s->quiet, "print nothing on stdout");
  command->add_flag("--overwrite", s->overwrite, "replace earlier results of the same intervention, or the table");
  command->footer(
      "Intervenes on the bottleneck of trained color autoencoders (docs/research.md, section 5) and measures\n"
      "how precisely the intervention hits its concept: every color's reconstruction MSE before\n"
      "and after, on the RGB 8^3 cube, the 17 named colors, HSV slices and a hue sweep.\n"
      "\n"
      "Exactly one intervention: --suppress, --repel, --ablate, --prune or --zero. LABEL is a\n"
      "concept the run's preset anchors (known: red, whose direction is the preset's anchor axis,\n"
      "+dim 0); DIMS is a comma-separated list of bottleneck dims, e.g. 0 or 0,2.\n"
      "\n"
      "The score: R^2 = r^2, r the Pearson correlation over the RGB 8^3 cube between each color's\n"
      "MSE after the intervention and sim(color, concept)^power, sim = eff (1 - |s1 - s2|)(1 - |v1 - v2|),\n"
      "eff = r hue_sim + (1 - r), r = (s1 v1 + s2 v2) / 2, hue_sim = max(0, (90 - dhue) / 90);\n"
      "with --concept vibrancy, the color's vibrancy S V in place of sim (a hue subspace's score,\n"
      "e.g. --zero 0,1 --concept vibrancy --score-power 2.3).\n"
      "\n"
      "outputs per run: colors.csv (per color: set, name, rgb, hsv, sim, sim^power, mse_before,\n"
      "mse_after, dmse, the reconstruction after), summary.json (the intervention, r, R^2, the fit,\n"
      "the named colors' dMSE), patches.svg and patches_baseline.svg (reconstructed around true\n"
      "colors on HSV slices), mse_vs_hue.svg, error_vs_similarity.svg.\n"
      "\n"
      "example: spheregrad train --preset ex-2.4.1 --out /tmp/r && spheregrad intervene /tmp/r --suppress red --p 0");
  command->callback([command, s, &exit_code] { exit_code = intervene(*command, *s); });
}

}  // namespace sg::cli
