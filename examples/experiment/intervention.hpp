// examples/experiment/intervention.hpp -- one intervention on a trained run (docs/findings.md, milestone 2),
// measured and scored, its outputs written to a folder: the work of `spheregrad intervene` per run.
//
// It lives here, above color/ (the edits and the score, examples/color/intervene.hpp), because it
// reads run folders (trained_model.hpp, the run's experiment) and writes figures (report/).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "examples/color/intervene.hpp"

namespace sg::intervene {

// Zero sets dims of the normalized bottleneck to 0 without renormalizing (the paper's subspace
// suppression: ||z'|| <= 1), unlike Ablate, whose remaining dims renormalize among themselves.
enum class Kind { None, Suppress, Repel, Ablate, Prune, Zero };

const char* kind_name(Kind k);  // "suppress", "repel", "ablate", "prune", "zero"; "none"

struct Request {
  Kind kind = Kind::None;
  std::string label;                  // suppress/repel: the concept
  std::vector<int> dims;              // ablate/prune/zero
  // ablate/prune/zero: what the score compares with -- a concept color (sim(color, concept)), or
  // "vibrancy" (the color's S V: how strongly a subspace of the vibrant hues should be hit)
  std::string concept_label = "red";
  Falloff falloff;                    // suppress/repel
  double score_power = -1;            // < 0: the kind's default, 2 for suppress/repel, 3 for the others
  bool edits_latents() const { return kind == Kind::Suppress || kind == Kind::Repel; }
  std::string dims_text() const;  // the dims sorted, joined by '+': "0+2"
};

struct Outcome {
  std::string dir, out_dir, experiment, seed, model, target, title;
  std::vector<double> direction;
  Fit fit;
  double power = 0, red_dmse = NAN, cyan_dmse = NAN, cube_before = 0, cube_after = 0;
  double ablate_prune_max_diff = NAN;  // ablate/prune: max |ablated - pruned| over every output
};

// Applies `request` to the run in `dir` (its folder or checkpoint), measures every color's
// reconstruction MSE before and after on the RGB 8^3 cube, the named colors, HSV slices and a hue
// sweep, scores the change over the cube, and writes to `out_dir` (created): colors.csv,
// summary.json, patches.svg, patches_baseline.svg, mse_vs_hue.svg, error_vs_similarity.svg; and
// adds the intervention to the run's report.html, where the run folder has one.
// Throws std::invalid_argument for a concept or dims the run cannot take, std::runtime_error
// for a run that cannot be read.
Outcome run_intervention(const std::string& dir, const Request& request, const std::string& out_dir);

}  // namespace sg::intervene
