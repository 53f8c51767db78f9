// examples/experiment/intervention.cpp -- one intervention on a trained run: measured, scored and
// written out.
#include "examples/experiment/intervention.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "examples/experiment/experiment.hpp"
#include "examples/experiment/trained_model.hpp"
#include "examples/report/figures.hpp"
#include "examples/report/intervention_figures.hpp"
#include "examples/report/svg.hpp"

namespace sg::intervene {
namespace {

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

// The run's report.html shows the intervention too: its entry (the output folder, the score and
// two of the paper's three panels; the page draws the third, the latents, from the run's own
// data) is added to DATA.interventions, or replaces the entry of the same folder. The run's
// results are untouched; the page is rewritten atomically, under a lock on the run folder, so
// interventions on one run from several processes all arrive.
// A page that is not a report this version can read (edited, or another program's) is left as it
// is, with a note: the intervention's own outputs are written already and stand.
void add_to_run_report(const std::string& dir, const Outcome& o, const std::string& patches, const std::string& errors) {
  namespace fs = std::filesystem;
  const std::string page = dir + "/report.html";
  if (!fs::is_directory(dir) || !fs::exists(page)) return;  // a bare checkpoint has no report
  const int lock = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) {
    if (lock >= 0) ::close(lock);
    throw std::runtime_error("cannot lock " + dir + " to add the intervention to its report.html");
  }
  try {
    nlohmann::json data;
    try {
      data = figures::report_data(page);
    } catch (const std::runtime_error& e) {
      std::fprintf(stderr, "spheregrad intervene: note: %s; the intervention is not added to it\n", e.what());
      ::close(lock);
      return;
    }
    const fs::path out = fs::weakly_canonical(o.out_dir), run = fs::weakly_canonical(dir);
    const std::string relative = out.lexically_relative(run).string();
    const std::string folder = !relative.empty() && relative.rfind("..", 0) != 0 ? relative : out.string();
    const nlohmann::json entry = {
        {"folder", folder}, {"title", o.title}, {"r2", o.fit.r2}, {"power", o.power},
        {"red_dmse", o.red_dmse}, {"cyan_dmse", o.cyan_dmse}, {"cube_before", o.cube_before},
        {"cube_after", o.cube_after}, {"patches", patches}, {"errors", errors}};
    nlohmann::json& list = data["interventions"];
    if (!list.is_array()) list = nlohmann::json::array();
    auto same = std::find_if(list.begin(), list.end(), [&](const nlohmann::json& e) { return e["folder"] == folder; });
    if (same != list.end()) *same = entry;
    else list.push_back(entry);
    figures::write_file_atomically(page, figures::report_html(data.value("title", std::string()), data.dump()));
  } catch (...) {
    ::close(lock);
    throw;
  }
  ::close(lock);  // releases the lock
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Suppress: return "suppress";
    case Kind::Repel: return "repel";
    case Kind::Ablate: return "ablate";
    case Kind::Prune: return "prune";
    case Kind::Zero: return "zero";
    default: return "none";
  }
}

std::string Request::dims_text() const {
  std::vector<int> sorted = dims;
  std::sort(sorted.begin(), sorted.end());
  std::string text;
  for (int d : sorted) {
    if (!text.empty()) text += '+';
    text += std::to_string(d);
  }
  return text;
}

Outcome run_intervention(const std::string& dir, const Request& request, const std::string& out_dir) {
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
  const int k = find_bottleneck(model).k;

  const bool latent = request.edits_latents();
  o.power = request.score_power >= 0 ? request.score_power : latent ? 2.0 : 3.0;
  const std::string& concept_label = latent ? request.label : request.concept_label;
  const bool by_vibrancy = !latent && concept_label == "vibrancy";
  color::Hsv reference{};
  if (latent) {
    // The direction comes from the preset the run was trained with (its anchor axis).
    if (trained.experiment.empty()) throw std::runtime_error(trained.checkpoint + ": no experiment in the metadata");
    const Concept target =
        find_concept(train::parse_experiment(trained.experiment, trained.checkpoint), request.label, k);
    o.direction = target.direction;
    reference = target.hsv;
    o.target = request.label;
  } else if (!by_vibrancy) {
    bool found = false;
    std::string known;
    for (const auto& [name, hsv] : concept_colors()) {
      known += (known.empty() ? "" : ", ") + name;
      if (name == request.concept_label) reference = hsv, found = true;
    }
    if (!found)
      throw std::invalid_argument("unknown concept '" + request.concept_label + "' (known: " + known + ", vibrancy)");
  }
  if (!latent) {
    check_dims(request.dims, k);  // names the run's width in the message
    o.target = "dims " + request.dims_text();
  }

  const ColorRows colors = evaluated_colors();
  const Matrix<float> before = reconstruct(model, tape, colors.rgb);
  Matrix<float> after;
  if (latent) {
    after = reconstruct(model, tape, colors.rgb, [&](const Matrix<float>& x) {
      return request.kind == Kind::Suppress ? suppress(x, o.direction, request.falloff)
                                            : repel(x, o.direction, request.falloff);
    });
  } else if (request.kind == Kind::Zero) {
    after = reconstruct(model, tape, colors.rgb, [&](const Matrix<float>& x) {
      Matrix<float> y = x;
      for (int d : request.dims) y.col(d).setZero();
      return y;
    });
  } else {
    // Both weight edits whenever the model can be pruned: the table reports how far apart they
    // are (they should not be -- see examples/color/intervene.hpp). A model whose name carries no
    // width (Ex12, Ex13) can still be ablated.
    std::optional<Autoencoder<float>> pruned;
    try {
      pruned.emplace(prune(tape, model, request.dims));
    } catch (const std::invalid_argument&) {
      if (request.kind == Kind::Prune) throw;
    }
    const Matrix<float> by_pruning = pruned ? reconstruct(*pruned, tape, colors.rgb) : Matrix<float>();
    ablate(model, request.dims);
    const Matrix<float> by_ablation = reconstruct(model, tape, colors.rgb);
    if (pruned) o.ablate_prune_max_diff = double((by_ablation - by_pruning).cwiseAbs().maxCoeff());
    after = request.kind == Kind::Ablate ? by_ablation : by_pruning;
  }
  const std::vector<double> mse_before = per_color_mse(before, colors.rgb);
  const std::vector<double> mse_after = per_color_mse(after, colors.rgb);

  // Per color: HSV, similarity to the concept, and the score over the cube.
  const long n = colors.rgb.rows();
  std::vector<color::Hsv> hsv(n);
  std::vector<double> sim(n), sim_p(n);
  for (long i = 0; i < n; ++i) {
    hsv[i] = color::rgb_to_hsv({colors.rgb(i, 0), colors.rgb(i, 1), colors.rgb(i, 2)});
    sim[i] = by_vibrancy ? color::vibrancy(colors.rgb.row(i).data()) : hsv_similarity(hsv[i], reference);
    sim_p[i] = std::pow(sim[i], o.power);
  }
  const int cube = colors.begin("cube"), cube_n = 512;
  const std::vector<double> cube_x(sim_p.begin() + cube, sim_p.begin() + cube + cube_n);
  const std::vector<double> cube_y(mse_after.begin() + cube, mse_after.begin() + cube + cube_n);
  o.fit = linear_fit(cube_x, cube_y);
  for (int i = cube; i < cube + cube_n; ++i)
    o.cube_before += mse_before[i] / cube_n, o.cube_after += mse_after[i] / cube_n;

  nlohmann::ordered_json named = nlohmann::ordered_json::object();
  for (long i = 0; i < n; ++i)
    if (colors.set[i] == "named") {
      const double d = mse_after[i] - mse_before[i];
      named[colors.name[i]] = {{"mse_before", mse_before[i]}, {"mse_after", mse_after[i]}, {"dmse", d}};
      if (colors.name[i] == "red") o.red_dmse = d;
      if (colors.name[i] == "cyan") o.cyan_dmse = d;
    }

  // Outputs.
  o.out_dir = out_dir;
  std::filesystem::create_directories(o.out_dir);
  const std::string folder = o.out_dir + "/";
  std::string what = std::string(kind_name(request.kind)) + " " + o.target;
  if (latent) what += figures::format(" (a0 %g, b %g, p %g)", request.falloff.a0, request.falloff.b, request.falloff.p);
  o.title = trained.label + " seed " + trained.seed + ": " + what;

  std::string csv = "set,name,r,g,b,h,s,v,sim,sim_pow,mse_before,mse_after,dmse,out_r,out_g,out_b\n";
  for (long i = 0; i < n; ++i) {
    csv += colors.set[i] + "," + colors.name[i];
    for (double e : {double(colors.rgb(i, 0)), double(colors.rgb(i, 1)), double(colors.rgb(i, 2)), hsv[i].h, hsv[i].s,
                     hsv[i].v, sim[i], sim_p[i], mse_before[i], mse_after[i], mse_after[i] - mse_before[i],
                     double(after(i, 0)), double(after(i, 1)), double(after(i, 2))})
      csv += ',', csv += figures::format("%.9g", e);
    csv += "\n";
  }
  figures::write_file_atomically(folder + "colors.csv", csv);

  nlohmann::ordered_json intervention = {{"kind", kind_name(request.kind)}};
  if (latent) {
    intervention["label"] = request.label;
    intervention["direction"] = o.direction;
    intervention["falloff"] = {{"a0", request.falloff.a0}, {"b", request.falloff.b}, {"p", request.falloff.p}};
  } else {
    intervention["dims"] = check_dims(request.dims, k);
    intervention["ablate_prune_max_abs_diff"] = o.ablate_prune_max_diff;
  }
  const nlohmann::ordered_json summary = {
      {"run", dir}, {"experiment", trained.label}, {"seed", trained.seed}, {"model", trained.model},
      {"intervention", intervention},
      {"score",
       {{"concept", concept_label},
        {"concept_hsv", by_vibrancy ? nlohmann::ordered_json() : nlohmann::ordered_json{reference.h, reference.s, reference.v}},
        {"power", o.power}, {"colors", "RGB 8^3 cube"}, {"n", o.fit.n}, {"r", o.fit.r}, {"r2", o.fit.r2},
        {"slope", o.fit.slope}, {"intercept", o.fit.intercept}}},
      {"red_dmse", o.red_dmse}, {"cyan_dmse", o.cyan_dmse},
      {"cube_mse_before", o.cube_before}, {"cube_mse_after", o.cube_after},
      {"named", named}};
  figures::write_file_atomically(folder + "summary.json", summary.dump(2) + "\n");

  const int slice = colors.begin("slice"), hue = colors.begin("hue");
  const std::string patches = figures::patches_svg(colors.rgb, after, slice, o.title + ", after");
  const std::string errors = figures::mse_vs_hue_svg(mse_before, mse_after, hue, o.title);
  figures::write_file_atomically(folder + "patches.svg", patches);
  figures::write_file_atomically(folder + "patches_baseline.svg",
                                 figures::patches_svg(colors.rgb, before, slice, o.title + ", before"));
  figures::write_file_atomically(folder + "mse_vs_hue.svg", errors);
  const std::string x_label =
      (by_vibrancy ? std::string("vibrancy") : "sim(color, " + concept_label + ")") + "^" + figures::format("%g", o.power);
  figures::write_file_atomically(folder + "error_vs_similarity.svg",
                                 figures::error_vs_similarity_svg(cube_x, cube_y, colors.rgb.middleRows(cube, cube_n),
                                                                  o.fit, o.title, x_label));
  add_to_run_report(dir, o, patches, errors);
  return o;
}

}  // namespace sg::intervene
