// examples/presets.cpp -- the experiments as presets of `spheregrad train` (SPEC.md section 8).
//
// Contract: every preset is complete -- model, data per phase, labels, regularizers and an
// embedded dopesheet -- so that `spheregrad train --preset NAME` needs no file. Each embedded
// dopesheet realizes, step by step, like its copy in examples/dopesheets/ (tested). Where
// SPEC.md is silent the choices are written next to the preset and in docs/findings.md.
#include <cmath>
#include <stdexcept>

#include "examples/train.hpp"

namespace sg::train {

namespace {

// Ex 1.2: one phase, Adam at 1e-3, 500 full-batch steps.
const char* const kEx12Dopesheet =
    "STEP,PHASE,ACTION,lr\n"
    "0,Train,,0.001\n"
    "499,,,0.001\n";

// Ex 1.3: five phases of darker hues. The original re-created a linear warm-up (PyTorch's
// LinearLR, start factor 1/W) over the first 10 % of each phase, W = 200 or 300 steps, from
// lr/W up to lr = 0.01; the regularizer weights change at phase starts only (step-end).
const char* const kEx13Dopesheet =
    "STEP,PHASE,ACTION,lr::linear,reg-norm::step-end,reg-planar::step-end\n"
    "0,12 hues,,5e-5,0.02,0.1\n"
    "+200,,,0.01,,\n"
    "-1,,,0.01,,\n"
    "2000,Bright hues,,5e-5,,\n"
    "+200,,,0.01,,\n"
    "-1,,,0.01,,\n"
    "4000,Slightly darker,,3.33333333e-5,0.05,0.02\n"
    "+300,,,0.01,,\n"
    "-1,,,0.01,,\n"
    "7000,Darker,,5e-5,0.1,0.005\n"
    "+200,,,0.01,,\n"
    "-1,,,0.01,,\n"
    "9000,All brightness levels,,3.33333333e-5,,0\n"
    "+300,,,0.01,,\n"
    "11999,,,0.01,,\n";

// Ex 1.5 (SPEC.md section 7): the smooth curriculum with drift anchoring.
const char* const kEx15Dopesheet =
    "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-fraction\n"
    "0,Primary & secondary,,,1,0,0.2,0.1,,\n"
    "1200,,,,0.8,0.3,,,,\n"
    "1800,,,,,,0.4,0.1,,\n"
    "3000,All hues,anchor,,,0,,0.25,0,0\n"
    "+350,,,0.01,,,,,,\n"
    "+0.5,,,,0.8,,0,,,\n"
    "+0.8,,,,,,,,0.3,\n"
    "10000,Full color space,,,,,,,,0.25\n"
    "13000,,,,1,,,,0.1,1\n"
    "20000,,,0.001,,,,,0.75,\n";

// Ex 1.6, smooth: minimum-jerk transitions everywhere.
const char* const kEx16SmoothDopesheet =
    "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-hues,data-vibrancies\n"
    "0,Primary & secondary,,1e-8,1,0,0,0.01,,,\n"
    "+10,,,0.01,,,,,,,\n"
    "200,,,,,0.2,0.4,0.25,,,\n"
    "-1,,,,,,,,0,,\n"
    "500,All hues,anchor,,,0,0.2,0.25,0.25,0,\n"
    "950,,,,,,,0.5,,1,\n"
    "1400,,,,,,0,,,,\n"
    "5000,Full color space,,0.02,,,,,,,0\n"
    "6500,,,,,,,0.25,,,1\n"
    "10000,,,0.001,,,,,,,\n";

// Ex 1.6, stepped: step-end values, more phases, and an lr warm-up at every phase start.
const char* const kEx16SteppedDopesheet =
    "STEP,PHASE,ACTION,lr,loss-recon::step-end,reg-separate::step-end,reg-planar::step-end,"
    "reg-norm::step-end,reg-anchor::step-end,data-hues::step-end,data-vibrancies::step-end\n"
    "0,Primary & secondary,,1e-8,1,0,0.2,0.01,0,0,0\n"
    "+10,,,0.01,,,,,,,\n"
    "-10,,,0.01,,,,,,,\n"
    "100,Primary & secondary,,1e-8,,0.15,0.3,0.25,,,\n"
    "+10,,,0.01,,,,,,,\n"
    "-10,,,0.01,,,,,,,\n"
    "300,Primary & secondary,,1e-8,,0,0.2,,,,\n"
    "+10,,,0.01,,,,,,,\n"
    "-10,,,0.01,,,,,,,\n"
    "500,All hues,anchor,1e-8,,,0.1,,0.25,0.5,0\n"
    "+10,,,0.01,,,,,,,\n"
    "-10,,,0.0125,,,,,,,\n"
    "1000,All hues,,1e-8,,,0,0.4,,1,\n"
    "+10,,,0.0125,,,,,,,\n"
    "-10,,,0.02,,,,,,,\n"
    "5000,Full color space,,1e-8,,,,0.25,,,0.5\n"
    "+10,,,0.02,,,,,,,\n"
    "-10,,,0.016,,,,,,,\n"
    "6500,Full color space,,1e-8,,,,,,,1\n"
    "+10,,,0.016,,,,,,,\n"
    "10000,,,0.001,,,,,,,\n";

// Ex 1.7 (SPEC.md sections 7 and 8): full data from step 0, selective regularizers.
const char* const kEx17Dopesheet =
    "STEP,PHASE,ACTION,lr,reg-separate,reg-planar,reg-norm,reg-norm-v,reg-polar\n"
    "0,Train,,1e-8,0.001,0.02,0.01,0.02,\n"
    "+10,,,0.01,,,,,\n"
    "500,,,,0.02,,,,\n"
    "2500,,,,0.01,0.08,,,\n"
    "5000,,,0.01,0.001,0.02,0.2,,0.006\n"
    "+0.5,,,,,,,,0.0002\n"
    "10000,,,0.005,,,,,\n";

// Ex 1.7 with a data curriculum (our addition, to test the claim that curricula crumple with
// everything else equal): the same regularizers and schedule, but the data narrowed like
// Ex 1.6's smooth curriculum -- primaries and secondaries first, all hues from step 500 to 950,
// the full color space from 5000 to 6500. Written with absolute steps, so that reg-polar's
// keyframe stays at 7500 where Ex 1.7 has it.
const char* const kEx17CurriculumDopesheet =
    "STEP,PHASE,ACTION,lr,reg-separate,reg-planar,reg-norm,reg-norm-v,reg-polar,data-hues,data-vibrancies\n"
    "0,Primary & secondary,,1e-8,0.001,0.02,0.01,0.02,,0,0\n"
    "10,,,0.01,,,,,,,\n"
    "500,All hues,,,0.02,,,,,0,\n"
    "950,,,,,,,,,1,\n"
    "2500,,,,0.01,0.08,,,,,\n"
    "5000,Full color space,,0.01,0.001,0.02,0.2,,0.006,,0\n"
    "6500,,,,,,,,,,1\n"
    "7500,,,,,,,,0.0002,,\n"
    "10000,,,0.005,,,,,,,\n";

// Milestone 2 (SPEC.md section 10): CNColorMLP, the RGB 8^3 grid, batch 64, 1501 steps. The
// original files wrote some steps as fractions of the interval between two absolute rows
// (+0.5, +0.9, +0.33); they are resolved here (375, 1125, 1425, 248 -- 0.33 x 750 = 247.5 rounds
// half to even). Every regularizer reaches 0 at step 1425 and stays off for the last 5 % of the
// run, so the final steps train reconstruction alone; lr warms up over 10 steps to 0.01, rises
// to 0.1 by step 750 and ends at 0.05.
//
// Ex 2.4.1, "soft intervention on red": a color wheel (vibrant hues in dims 0-1) with red
// anchored to +dim 0, built so that suppressing red at the bottleneck affects only red.
const char* const kEx241Dopesheet =
    "STEP,PHASE,ACTION,lr,separate,anchor,subspace\n"
    "0,Train,,1e-8,,0.01,0.01\n"
    "10,,,0.01,,,\n"
    "375,,,,,,0.1\n"
    "750,,,0.1,0.01,0.1,\n"
    "1125,,,,,,0.1\n"
    "1425,,,0.1,0,0,0\n"
    "1500,,,0.05,,,\n";

// Ex 2.9.1, "delete only red": red anchored to +dim 0 of a 5-D bottleneck, everything else kept
// out of dim 0 (anti-subspace) and out of the hemisphere opposite red (anti-anchor), so that
// deleting dim 0 deletes red and leaves cyan -- red's opposite -- alone.
const char* const kEx291Dopesheet =
    "STEP,PHASE,ACTION,lr,separate,anchor,anti-anchor,anti-subspace\n"
    "0,Train,,1e-8,,0,0,0.25\n"
    "10,,,0.01,,,,\n"
    "248,,,,0.01,0.1,0.05,\n"
    "750,,,0.1,0.001,0.1,,0.003\n"
    "1425,,,0.1,0,0,0,0\n"
    "1500,,,0.05,,,,\n";

Regularizer term(const std::string& name, TermKind kind, loss::Affinities affinities = {}) {
  Regularizer r;
  r.name = name;
  r.kind = kind;
  r.affinities = std::move(affinities);
  return r;
}

Regularizer euclidean(loss::EuclideanForm form) {
  Regularizer r = term("reg-separate", TermKind::EuclideanRepulsion);
  r.euclidean.form = form;
  return r;
}

// Whole degrees [first, last] of the cyclic hue range, as hues in [0, 1).
std::vector<double> degrees(int first, int last, const HueBand* skip = nullptr) {
  std::vector<double> hues;
  for (int d = first; d <= last; ++d)
    if (!skip || !skip->contains(d)) hues.push_back(d / 360.0);
  return hues;
}

std::vector<double> linspace(double lo, double hi, int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(n == 1 ? lo : lo + (hi - lo) * i / (n - 1));
  return v;
}

Preset ex12() {
  Preset p;
  p.name = "ex-1.2";
  p.description = "2-D explicitly normalized wheel on 538 hues, teal-blue held out";
  p.model = "Ex12";
  p.labels = color::LabelSet::None;
  p.dopesheet = kEx12Dopesheet;
  // Hues 0..359 step 1 degree without teal (150) .. blue (240) inclusive; s = 1, v in {0.9, 1}.
  p.heldout = HueBand{150, 240};
  p.data = {{"", color::hsv_grid(degrees(0, 359, &*p.heldout), {1.0}, {0.9, 1.0}), true, false}};
  return p;
}

Preset ex13() {
  Preset p;
  p.name = "ex-1.3";
  p.description = "3-D stepped curriculum of darker hues (the dome)";
  p.model = "Ex13";
  p.labels = color::LabelSet::None;
  p.dopesheet = kEx13Dopesheet;
  // "nonplanar" = mean z_2^2, which for a 3-D bottleneck is planarity (sum over d >= 2).
  p.regularizers = {term("reg-norm", TermKind::Unitarity), term("reg-planar", TermKind::Planarity)};
  const std::vector<double> all = degrees(0, 359);
  std::vector<double> twelve;
  for (int i = 0; i < 12; ++i) twelve.push_back(i / 12.0);
  p.data = {{"12 hues", color::hsv_grid(twelve, {1.0}, {1.0}), true, false},
            {"Bright hues", color::hsv_grid(all, {1.0}, {1.0}), true, false},
            {"Slightly darker", color::hsv_grid(all, {1.0}, {0.9, 1.0}), true, false},
            {"Darker", color::hsv_grid(all, {1.0}, linspace(0.8, 1.0, 3)), true, false},
            {"All brightness levels", color::hsv_grid(all, {1.0}, linspace(0.2, 1.0, 10)), true, false}};
  return p;
}

// Ex 1.5 and its repulsion variants: the six primaries/secondaries as one full batch in the
// first phase, then the HSV cube by bias x vibrancy focus (the original's data per phase).
Preset ex15(const std::string& name, const std::string& description, Regularizer separate) {
  Preset p;
  p.name = name;
  p.description = description;
  p.model = "ColorMLP(4)";
  p.batch = 256;
  p.labels = color::LabelSet::None;
  p.dopesheet = kEx15Dopesheet;
  p.regularizers = {separate, term("reg-planar", TermKind::Planarity), term("reg-norm", TermKind::Unitarity),
                    term("reg-anchor", TermKind::DriftAnchor)};
  p.data = {{"Primary & secondary", color::hue_ring(6), true, false}, {"", color::hsv_cube(), false, true}};
  p.focus = Focus::Vibrancy;
  return p;
}

Preset ex16(const std::string& name, const std::string& description, const char* dopesheet) {
  Preset p;
  p.name = name;
  p.description = description;
  p.model = "ColorMLP(4)";
  p.batch = 32;
  p.labels = color::LabelSet::None;
  p.dopesheet = dopesheet;
  Regularizer planar = term("reg-planar", TermKind::Planarity), norm = term("reg-norm", TermKind::Unitarity);
  planar.focus_weighted = norm.focus_weighted = true;
  p.regularizers = {euclidean(loss::EuclideanForm::Correct), planar, norm, term("reg-anchor", TermKind::DriftAnchor)};
  p.data = {{"Primary & secondary", color::hue_ring(6), true, false}, {"", color::hsv_cube(), false, true}};
  p.focus = Focus::VibrancyAndHues;
  p.focus_weighted_recon = true;
  return p;
}

Preset ex17() {
  Preset p;
  p.name = "ex-1.7";
  p.description = "selective regularization, full data from step 0 (the main method)";
  p.model = "ColorMLP(4)";
  p.batch = 64;
  p.labels = color::LabelSet::M1;
  Regularizer separate = term("reg-separate", TermKind::AngularRepulsion);
  separate.angular = {10, false};
  p.regularizers = {term("reg-polar", TermKind::Anchor, {{"red", 1.0}}), separate,
                    term("reg-planar", TermKind::Planarity, {{"vibrant", 1.0}}),
                    term("reg-norm-v", TermKind::Unitarity, {{"vibrant", 1.0}}), term("reg-norm", TermKind::Unitarity)};
  p.dopesheet = kEx17Dopesheet;
  return p;
}

Preset ex17_curriculum() {
  Preset p = ex17();
  p.name = "ex-1.7-curriculum";
  p.description = "Ex 1.7 with a data curriculum (primaries, then all hues, then the full space)";
  p.dopesheet = kEx17CurriculumDopesheet;
  p.data = {{"", color::hsv_cube(), false, true}};
  p.focus = Focus::VibrancyAndHues;
  return p;
}

// The milestone-2 presets share their model family, data, labels and repulsion. Separate is the
// shifted p = 100 angular repulsion on every sample (only near-parallel pairs push); the anchor
// is angular (direction only: the normalizing bottleneck fixes the radius) and acts on samples
// labelled red, which the M2 probabilities make rare: 0.08 redness^8 labels 0.09 % of the
// grid's draws, about 86 samples in a whole run (one batch in 17 has one).
Preset m2(const std::string& name, const std::string& description, const std::string& model, const char* dopesheet) {
  Preset p;
  p.name = name;
  p.description = description;
  p.model = model;
  p.batch = 64;
  p.labels = color::LabelSet::M2;
  p.dopesheet = dopesheet;
  // The RGB 8^3 grid, cells drawn uniformly with replacement (the original's "cell corners").
  p.data = {{"", color::rgb_cube(8), false, false}};
  Regularizer separate = term("separate", TermKind::AngularRepulsion);
  separate.angular = {100, true};
  p.regularizers = {separate, term("anchor", TermKind::AngularAnchor, {{"red", 1.0}})};
  return p;
}

Preset ex241() {
  Preset p = m2("ex-2.4.1",
                "M2 suppression: CNColorMLP(4,1), red angular-anchored to +dim 0, vibrant hues in dims 0-1 (subspace)",
                "CNColorMLP(4,1)", kEx241Dopesheet);
  Regularizer subspace = term("subspace", TermKind::Subspace, {{"vibrant", 1.0}});
  subspace.dims = {0, 1};
  p.regularizers.push_back(subspace);
  return p;
}

Preset ex291() {
  Preset p = m2("ex-2.9.1",
                "M2 deletion: CNColorMLP(5,2), red angular-anchored to +dim 0, all samples kept out of dim 0 "
                "(anti-subspace) and out of the anti-red hemisphere (hemi anti-anchor)",
                "CNColorMLP(5,2)", kEx291Dopesheet);
  // Hemi form, max(cos(z, -e0), 0): it empties the hemisphere opposite red and is indifferent
  // elsewhere. The other form, (cos + 1) / 2, would pull every color toward red.
  Regularizer anti_anchor = term("anti-anchor", TermKind::AntiAnchor);
  anti_anchor.anchor_sign = -1;
  anti_anchor.hemi = true;
  Regularizer anti_subspace = term("anti-subspace", TermKind::Subspace);
  anti_subspace.dims = {0};
  anti_subspace.invert = true;
  p.regularizers.push_back(anti_anchor);
  p.regularizers.push_back(anti_subspace);
  return p;
}

std::vector<Preset> make_presets() {
  Regularizer angular = term("reg-separate", TermKind::AngularRepulsion);
  // Shifted: without the shift an even power repels antipodal primaries (red and cyan) as hard
  // as coincident ones, which no wheel can satisfy.
  angular.angular = {10, true};
  return {ex12(),
          ex13(),
          ex15("ex-1.5", "smooth curriculum, drift anchor, Euclidean repulsion (correct form)",
               euclidean(loss::EuclideanForm::Correct)),
          ex15("ex-1.5-original", "Ex 1.5 with the original form of Euclidean repulsion (self-pairs add 1e6/B)",
               euclidean(loss::EuclideanForm::Original)),
          ex15("ex-1.5-angular", "Ex 1.5 with angular repulsion (p = 10, shifted) instead of Euclidean", angular),
          ex16("ex-1.6-smooth", "smooth curriculum (minimum-jerk schedule), focus-weighted losses", kEx16SmoothDopesheet),
          ex16("ex-1.6-stepped", "stepped curriculum (step-end schedule, lr warm-up per phase)", kEx16SteppedDopesheet),
          ex17(),
          ex17_curriculum(),
          ex241(),
          ex291()};
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = make_presets();
  return all;
}

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : presets()) names.push_back(p.name);
  return names;
}

const Preset& find_preset(const std::string& name) {
  std::string known;
  for (const Preset& p : presets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  throw std::invalid_argument("unknown preset '" + name + "' (known: " + known + ")");
}

}  // namespace sg::train
