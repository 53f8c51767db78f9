// `spheregrad intervene RUN_DIR...`: applies one intervention (suppression or repulsion of a
// concept at the bottleneck, ablation or pruning of bottleneck dims) to trained runs, measures
// every color's reconstruction error before and after, scores the precision of the change
// against the HSV similarity to the concept (examples/color/intervene.hpp), and writes per run a
// table, a JSON summary and figures -- plus, for many runs, one row per run.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "examples/cli/cli.hpp"
#include "examples/cli/cmd_llc.hpp"
#include "examples/color/intervene.hpp"
#include "examples/experiment/train.hpp"
#include "examples/report/figures.hpp"
#include "examples/report/intervention_figures.hpp"

namespace sg::cli {
namespace {

enum class Kind { None, Suppress, Repel, Ablate, Prune };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Suppress: return "suppress";
    case Kind::Repel: return "repel";
    case Kind::Ablate: return "ablate";
    case Kind::Prune: return "prune";
    default: return "none";
  }
}

struct Settings {
  std::vector<std::string> runs;
  Kind kind = Kind::None;
  std::string label;           // suppress/repel: the concept
  std::string concept_label = "red";  // the score's reference color
  std::vector<int> dims;       // ablate/prune
  std::string dims_text;
  intervene::Falloff falloff;
  double score_power = -1;     // < 0: the kind's default
  std::string out, name, table;
  bool quiet = false;
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
void choose(Settings& s, Kind kind, const std::string& option, const std::string& value) {
  if (s.kind != Kind::None)
    throw std::invalid_argument(std::string("choose one intervention (got --") + kind_name(s.kind) + " and " + option +
                                ")");
  s.kind = kind;
  if (kind == Kind::Suppress || kind == Kind::Repel) {
    s.label = value;
    return;
  }
  s.dims = parse_dims(option, value);
  std::vector<int> sorted = s.dims;
  std::sort(sorted.begin(), sorted.end());
  for (int d : sorted) s.dims_text += (s.dims_text.empty() ? "" : "+") + std::to_string(d);
}

// ------------------------------------------------------------------ one run

// The evaluated colors: one matrix, in sets the outputs read back by range.
struct ColorRows {
  Matrix<float> rgb;
  std::vector<std::string> set, name;
  int begin(const std::string& s) const { return int(std::find(set.begin(), set.end(), s) - set.begin()); }
  void add(const std::string& set_name, const color::ColorSet& c) {
    const long old = rgb.rows();
    rgb.conservativeResize(old + c.size(), 3);
    rgb.bottomRows(c.size()) = c.rgb;
    for (int i = 0; i < c.size(); ++i) {
      set.push_back(set_name);
      name.push_back(c.name.empty() ? "" : c.name[i]);
    }
  }
};

// The cube for the score, the named colors for the summary, and the slices and the hue sweep the
// figures read.
ColorRows evaluated_colors() {
  using figures::kSliceHues, figures::kSliceSats, figures::kSliceVals;
  ColorRows rows;
  rows.add("cube", color::rgb_cube(8));
  rows.add("named", color::named_colors());
  std::vector<double> hues, sats, vals;
  for (int i = 0; i < kSliceHues; ++i) hues.push_back(double(i) / kSliceHues);
  for (int i = 0; i < kSliceSats; ++i) sats.push_back(double(i) / (kSliceSats - 1));
  for (int i = 0; i < kSliceVals; ++i) vals.push_back(double(i) / (kSliceVals - 1));
  rows.add("slice", color::hsv_grid(hues, sats, vals));
  std::vector<double> degrees;
  for (int d = 0; d < 360; ++d) degrees.push_back(d / 360.0);
  for (const auto& level : figures::kSweepLevels) rows.add("hue", color::hsv_grid(degrees, {level[0]}, {level[1]}));
  return rows;
}

struct Outcome {
  std::string dir, out_dir, experiment, seed, model, target, title;
  std::vector<double> direction;
  intervene::Fit fit;
  double power = 0, red_dmse = NAN, cyan_dmse = NAN, cube_before = 0, cube_after = 0;
  double ablate_prune_max_diff = NAN;  // ablate/prune: max |ablated - pruned| over every output
};

// ------------------------------------------------------------------ the intervention

std::string default_name(const Settings& s) {
  return std::string("intervene-") + kind_name(s.kind) + "-" +
         (s.kind == Kind::Suppress || s.kind == Kind::Repel ? s.label : s.dims_text);
}

Outcome run_one(const std::string& dir, const Settings& s) {
  Outcome o;
  o.dir = dir;
  const train::TrainedModel trained = train::load_trained_model(dir);
  o.experiment = trained.label;
  o.seed = trained.seed;
  o.model = trained.model;

  Tape<float> tape;
  Rng unused(0, Stream::Init);
  Autoencoder<float> model = make_model(tape, trained.model, unused);
  const std::vector<Parameter<float>> params = model.parameters();
  for (std::size_t p = 0; p < params.size(); ++p) params[p].tensor.value() = trained.values[p];
  const int k = intervene::find_bottleneck(model).k;

  const bool latent = s.kind == Kind::Suppress || s.kind == Kind::Repel;
  o.power = s.score_power >= 0 ? s.score_power : latent ? 2.0 : 3.0;
  color::Hsv reference{};
  if (latent) {
    // The direction comes from the preset the run was trained with (its anchor axis).
    if (trained.experiment.empty()) throw std::runtime_error(trained.checkpoint + ": no experiment in the metadata");
    const intervene::Concept target =
        intervene::find_concept(train::parse_experiment(trained.experiment, trained.checkpoint), s.label, k);
    o.direction = target.direction;
    reference = target.hsv;
    o.target = s.label;
  } else {
    bool found = false;
    std::string known;
    for (const auto& [name, hsv] : intervene::concept_colors()) {
      known += (known.empty() ? "" : ", ") + name;
      if (name == s.concept_label) reference = hsv, found = true;
    }
    if (!found) throw std::invalid_argument("unknown concept '" + s.concept_label + "' (known: " + known + ")");
    intervene::check_dims(s.dims, k);  // names the run's width in the message
    o.target = "dims " + s.dims_text;
  }

  const ColorRows colors = evaluated_colors();
  const Matrix<float> before = intervene::reconstruct(model, tape, colors.rgb);
  Matrix<float> after;
  if (latent) {
    after = intervene::reconstruct(model, tape, colors.rgb, [&](const Matrix<float>& x) {
      return s.kind == Kind::Suppress ? intervene::suppress(x, o.direction, s.falloff)
                                      : intervene::repel(x, o.direction, s.falloff);
    });
  } else {
    // Both weight edits whenever the model can be pruned: the table reports how far apart they
    // are (they should not be -- see examples/color/intervene.hpp). A model whose name carries no
    // width (Ex12, Ex13) can still be ablated.
    std::optional<Autoencoder<float>> pruned;
    try {
      pruned.emplace(intervene::prune(tape, model, s.dims));
    } catch (const std::invalid_argument&) {
      if (s.kind == Kind::Prune) throw;
    }
    const Matrix<float> by_pruning = pruned ? intervene::reconstruct(*pruned, tape, colors.rgb) : Matrix<float>();
    intervene::ablate(model, s.dims);
    const Matrix<float> by_ablation = intervene::reconstruct(model, tape, colors.rgb);
    if (pruned) o.ablate_prune_max_diff = double((by_ablation - by_pruning).cwiseAbs().maxCoeff());
    after = s.kind == Kind::Ablate ? by_ablation : by_pruning;
  }
  const std::vector<double> mse_before = intervene::per_color_mse(before, colors.rgb);
  const std::vector<double> mse_after = intervene::per_color_mse(after, colors.rgb);

  // Per color: HSV, similarity to the concept, and the score over the cube.
  const long n = colors.rgb.rows();
  std::vector<color::Hsv> hsv(n);
  std::vector<double> sim(n), sim_p(n);
  for (long i = 0; i < n; ++i) {
    hsv[i] = color::rgb_to_hsv({colors.rgb(i, 0), colors.rgb(i, 1), colors.rgb(i, 2)});
    sim[i] = intervene::hsv_similarity(hsv[i], reference);
    sim_p[i] = std::pow(sim[i], o.power);
  }
  const int cube = colors.begin("cube"), cube_n = 512;
  const std::vector<double> cube_x(sim_p.begin() + cube, sim_p.begin() + cube + cube_n);
  const std::vector<double> cube_y(mse_after.begin() + cube, mse_after.begin() + cube + cube_n);
  o.fit = intervene::linear_fit(cube_x, cube_y);
  for (int i = cube; i < cube + cube_n; ++i) o.cube_before += mse_before[i] / cube_n, o.cube_after += mse_after[i] / cube_n;

  nlohmann::ordered_json named = nlohmann::ordered_json::object();
  for (long i = 0; i < n; ++i)
    if (colors.set[i] == "named") {
      const double d = mse_after[i] - mse_before[i];
      named[colors.name[i]] = {{"mse_before", mse_before[i]}, {"mse_after", mse_after[i]}, {"dmse", d}};
      if (colors.name[i] == "red") o.red_dmse = d;
      if (colors.name[i] == "cyan") o.cyan_dmse = d;
    }

  // Outputs.
  o.out_dir = !s.out.empty() ? s.out : (std::filesystem::path(dir) / (s.name.empty() ? default_name(s) : s.name)).string();
  std::filesystem::create_directories(o.out_dir);
  const std::string folder = o.out_dir + "/";
  std::string what = std::string(kind_name(s.kind)) + " " + (latent ? s.label : "dims " + s.dims_text);
  if (latent) what += " (a0 " + figure(s.falloff.a0) + ", b " + figure(s.falloff.b) + ", p " + figure(s.falloff.p) + ")";
  o.title = trained.label + " seed " + trained.seed + ": " + what;

  std::string csv = "set,name,r,g,b,h,s,v,sim,sim_pow,mse_before,mse_after,dmse,out_r,out_g,out_b\n";
  for (long i = 0; i < n; ++i) {
    csv += colors.set[i] + "," + colors.name[i];
    for (double e : {double(colors.rgb(i, 0)), double(colors.rgb(i, 1)), double(colors.rgb(i, 2)), hsv[i].h, hsv[i].s,
                     hsv[i].v, sim[i], sim_p[i], mse_before[i], mse_after[i], mse_after[i] - mse_before[i],
                     double(after(i, 0)), double(after(i, 1)), double(after(i, 2))})
      csv += ',', csv += figure(e, 9);
    csv += "\n";
  }
  figures::write_file_atomically(folder + "colors.csv", csv);

  nlohmann::ordered_json intervention = {{"kind", kind_name(s.kind)}};
  if (latent) {
    intervention["label"] = s.label;
    intervention["direction"] = o.direction;
    intervention["falloff"] = {{"a0", s.falloff.a0}, {"b", s.falloff.b}, {"p", s.falloff.p}};
  } else {
    intervention["dims"] = intervene::check_dims(s.dims, k);
    intervention["ablate_prune_max_abs_diff"] = o.ablate_prune_max_diff;
  }
  const nlohmann::ordered_json summary = {
      {"run", dir}, {"experiment", trained.label}, {"seed", trained.seed}, {"model", trained.model},
      {"intervention", intervention},
      {"score",
       {{"concept", latent ? s.label : s.concept_label}, {"concept_hsv", {reference.h, reference.s, reference.v}},
        {"power", o.power}, {"colors", "RGB 8^3 cube"}, {"n", o.fit.n}, {"r", o.fit.r}, {"r2", o.fit.r2},
        {"slope", o.fit.slope}, {"intercept", o.fit.intercept}}},
      {"red_dmse", o.red_dmse}, {"cyan_dmse", o.cyan_dmse},
      {"cube_mse_before", o.cube_before}, {"cube_mse_after", o.cube_after},
      {"named", named}};
  figures::write_file_atomically(folder + "summary.json", summary.dump(2) + "\n");

  const int slice = colors.begin("slice"), hue = colors.begin("hue");
  figures::write_file_atomically(folder + "patches.svg",
                                 figures::patches_svg(colors.rgb, after, slice, o.title + ", after"));
  figures::write_file_atomically(folder + "patches_baseline.svg",
                                 figures::patches_svg(colors.rgb, before, slice, o.title + ", before"));
  figures::write_file_atomically(folder + "mse_vs_hue.svg", figures::mse_vs_hue_svg(mse_before, mse_after, hue, o.title));
  const std::string x_label = "sim(color, " + (latent ? s.label : s.concept_label) + ")^" + figure(o.power);
  figures::write_file_atomically(folder + "error_vs_similarity.svg",
                                 figures::error_vs_similarity_svg(cube_x, cube_y, colors.rgb.middleRows(cube, cube_n),
                                                                  o.fit, o.title, x_label));
  return o;
}

// ------------------------------------------------------------------ many runs

std::string table_header() {
  return "run,experiment,seed,model,kind,target,a0,b,p,score_power,r,r2,red_dmse,cyan_dmse,cube_mse_before,"
         "cube_mse_after,ablate_prune_max_abs_diff\n";
}

std::string table_row(const Outcome& o, const Settings& s) {
  const bool latent = s.kind == Kind::Suppress || s.kind == Kind::Repel;
  std::string row = "\"" + o.dir + "\"," + o.experiment + "," + o.seed + ",\"" + o.model + "\"," + kind_name(s.kind) + ",\"" +
                    o.target + "\"";
  for (double v : {latent ? s.falloff.a0 : NAN, latent ? s.falloff.b : NAN, latent ? s.falloff.p : NAN, o.power, o.fit.r,
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
  if (s.kind == Kind::None)
    throw CLI::ValidationError("no intervention given: --suppress, --repel, --ablate or --prune");
  const bool latent = s.kind == Kind::Suppress || s.kind == Kind::Repel;
  const bool falloff_given = command.count("--a0") || command.count("--b") || command.count("--p");
  if (!latent && falloff_given) throw CLI::ValidationError("--a0, --b and --p shape --suppress and --repel only");
  if (latent && command.count("--concept"))
    throw CLI::ValidationError("--concept is for --ablate and --prune (--" + std::string(kind_name(s.kind)) +
                               " names its own)");
  if (!s.out.empty() && s.runs.size() > 1)
    throw CLI::ValidationError("--out takes one RUN_DIR; with several, use --name");
  try {
    s.falloff.check();
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(e.what());
  }

  std::vector<Outcome> outcomes;
  for (const std::string& dir : s.runs) {
    outcomes.push_back(run_one(dir, s));
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
    for (const Outcome& o : outcomes) table += table_row(o, s);
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
      program.add_subcommand("intervene", "suppress, repel, ablate or prune a concept in trained runs; score it");
  command->add_option("RUN_DIR", s->runs, "trained runs' folders")->required();
  const std::pair<Kind, const char*> interventions[] = {
      {Kind::Suppress, "x' = x - g(a) (x.v) v, a = clamp(x.v, 0, 1), v the concept's direction"},
      {Kind::Repel, "turn x in the plane of (x, v), keeping |x|, to cos(x', v) = a (1 - g(a))"},
      {Kind::Ablate, "zero the bottleneck's producer rows and biases and consumer columns"},
      {Kind::Prune, "delete those dims (a model with a narrower bottleneck)"}};
  for (const auto& [kind, help] : interventions) {
    const std::string name = std::string("--") + kind_name(kind);
    add_converted(*command, name, [s, kind, name](const std::string& v) { choose(*s, kind, name, v); }, help)
        ->type_name(kind == Kind::Suppress || kind == Kind::Repel ? "LABEL" : "DIMS");
  }
  add_number(*command, "--a0", s->falloff.a0,
             "the falloff g(a) = b ((a - a0)/(1 - a0))^p for a > a0, else 0\n"
             "(suppress/repel; default a0 0)");
  add_number(*command, "--b", s->falloff.b, "the falloff's b (default 1)");
  add_number(*command, "--p", s->falloff.p, "the falloff's p (default 2; 0 removes the whole positive component)");
  command->add_option("--concept", s->concept_label,
                      "the concept the score compares with, for --ablate/--prune (default red)")
      ->type_name("LABEL");
  add_number(*command, "--score-power", s->score_power,
             "the score's power of the similarity (default 2 for suppress/repel,\n"
             "3 for ablate/prune)",
             0);
  command->add_option("--out", s->out, "output folder (one run only; default RUN_DIR/<name>)")->type_name("DIR");
  add_converted(
      *command, "--name",
      [s](const std::string& v) {
        if (v.empty() || v.find('/') != std::string::npos)
          throw std::invalid_argument("--name expects a folder name without '/', got '" + v + "'");
        s->name = v;
      },
      "the output folder's name inside each RUN_DIR (default\n"
      "intervene-<kind>-<label or dims>, e.g. intervene-suppress-red)")
      ->type_name("NAME");
  command->add_option("--table", s->table, "one CSV row per run (r, R^2, red and cyan dMSE, ...), for sweeps")
      ->type_name("FILE");
  command->add_flag("--quiet", s->quiet, "print nothing on stdout");
  command->footer(
      "Intervenes on the bottleneck of trained color autoencoders (SPEC.md section 10) and measures\n"
      "how precisely the intervention hits its concept: every color's reconstruction MSE before\n"
      "and after, on the RGB 8^3 cube, the 17 named colors, HSV slices and a hue sweep.\n"
      "\n"
      "Exactly one intervention: --suppress, --repel, --ablate or --prune. LABEL is a concept the\n"
      "run's preset anchors (known: red, whose direction is the preset's anchor axis, +dim 0);\n"
      "DIMS is a comma-separated list of bottleneck dims, e.g. 0 or 0,2.\n"
      "\n"
      "The score: R^2 = r^2, r the Pearson correlation over the RGB 8^3 cube between each color's\n"
      "MSE after the intervention and sim(color, concept)^power, sim = eff (1 - |s1 - s2|)(1 - |v1 - v2|),\n"
      "eff = r hue_sim + (1 - r), r = (s1 v1 + s2 v2) / 2, hue_sim = max(0, (90 - dhue) / 90).\n"
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
