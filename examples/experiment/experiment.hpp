// examples/experiment/experiment.hpp -- experiment files: one JSON file describes a whole run.
//
// Contract:
// - An experiment names its model, its data per dopesheet phase, its label rules, its
//   regularizers (term, options, label affinities; the dopesheet column of the same name weights
//   each), the dopesheet itself, and steps, batch, seed, snapshot and logging settings.
//   docs/experiments.md lists every field with its default.
// - load_experiment() takes a built-in name or a file, applies `--set key.path=value` overrides,
//   reads the dopesheet (a path in a file is relative to that file), and checks everything
//   before anything runs: unknown keys, wrong types, values out of range, a regularizer without
//   a column, a column that weights nothing, an unknown term or label, a phase without data.
//   Each is an ExperimentError naming the source and the JSON path
//   (`regularizers.reg-polar.affinities.red: expected a number in [0, 1], got "x"`).
// - The resolved experiment (Experiment::resolved) has every default written out and the
//   dopesheet inline, one string per line: a run folder keeps it as experiment.json, and
//   training from that file repeats the run byte for byte.
// - Identity: hash is 8 hex digits of the resolved experiment without its seed; an experiment
//   equal to the built-in of its name (seed aside) is stock. Run folders, summaries and report
//   titles use label(): the name for a stock experiment, name-hash for any other.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "examples/color/metrics.hpp"
#include "losses/losses.hpp"
#include "losses/selective.hpp"
#include "nn/models.hpp"

namespace sg::train {

using Json = nlohmann::ordered_json;

class ExperimentError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class TermKind {
  Unitarity, Planarity, Subspace, AngularRepulsion, EuclideanRepulsion,
  Anchor, AngularAnchor, AntiAnchor, DriftAnchor, Uniformity, Energy,
};

struct Regularizer {
  std::string name;  // the dopesheet column that weights it
  TermKind kind = TermKind::Unitarity;
  bool enabled = true;                // false: its column stays, the term is never computed (ablations)
  loss::Affinities affinities;        // {label: strength}; empty = every sample
  loss::AngularRepulsion angular;     // AngularRepulsion
  loss::EuclideanRepulsion euclidean; // EuclideanRepulsion
  double uniformity_t = 2;            // Uniformity
  loss::Energy energy;                // Energy (mask_duplicates always on: batches draw with replacement)
  std::vector<int> dims;              // Subspace
  bool invert = false;                // Subspace
  int anchor_axis = 0;                // anchors: the point is sign * e_axis ...
  double anchor_sign = 1;
  std::vector<double> anchor_point;   // ... unless this is given (bottleneck-wide)
  bool hemi = false;                  // AntiAnchor
  bool focus_weighted = false;        // weight each sample by its curriculum focus (Ex 1.6)
};

// How one phase's batches are drawn from its set.
enum class Sampling {
  FullBatch,  // every row of the set, in order, every step (no sampling, no batch size)
  Weighted,   // with replacement, by the set's weights
  Focused,    // with replacement, by the set's weights x the experiment's curriculum focus
};

struct PhaseData {
  std::string phase;  // the phase it serves; "*" serves every phase not listed
  color::ColorSet set;
  Sampling sampling = Sampling::Weighted;
};

// How a curriculum narrows the sampled data (docs/experiments.md, "focus").
enum class Focus {
  None,             // by the set's weights alone
  Vibrancy,         // bias x levels(S V, data-fraction)                                (Ex 1.5)
  VibrancyAndHues,  // bias x levels(S V, data-vibrancies) x levels(ps focus, data-hues)  (Ex 1.6)
};

struct Experiment {
  std::string name, description;
  MlpSpec model;
  std::vector<PhaseData> data;
  Focus focus = Focus::None;
  bool focus_weighted_recon = false;  // weight the reconstruction per sample by focus (Ex 1.6)
  std::vector<color::LabelRule> labels;
  std::vector<Regularizer> regularizers;
  std::string dopesheet;  // CSV text
  int steps = -1;         // < 0: the dopesheet's length
  int batch = 64;
  // Samples per epoch of a sampled phase (0: none, every batch full). With it, the steps run in
  // epochs of ceil(epoch / batch) batches and the last batch of each holds the remainder, as a
  // PyTorch DataLoader without drop_last does (the original Ex 1.7: 3600 at batch 64).
  int epoch = 0;
  // Labels as probabilities: each sample's label is p(label | color) itself instead of a draw
  // that is 1 with probability p (the original's stochastic labels). Written only when true.
  bool soft_labels = false;
  unsigned long long seed = 0;
  int batch_at(int step) const {
    if (epoch == 0) return batch;
    const int per_epoch = (epoch + batch - 1) / batch;
    return step % per_epoch == per_epoch - 1 ? epoch - (per_epoch - 1) * batch : batch;
  }
  int snapshot_every = 250;  // latents of the validation cube every N steps (and at the end); 0: none
  int log_every = 1;         // a metrics.csv row every N steps
  std::optional<color::HueBand> heldout;  // measured separately (the wheel's gap)

  Json resolved;     // everything above, defaults explicit, dopesheet inline
  std::string hash;  // 8 hex digits of `resolved` without the seed
  bool stock = false;
  std::string label() const { return stock ? name : name + "-" + hash; }
  const Regularizer* regularizer(const std::string& name) const;  // nullptr when absent
};

// The built-in experiments, by name ("ex-1.7", ...), and each one's file as shipped.
std::vector<std::string> builtin_names();
std::string builtin_text(const std::string& name);  // throws ExperimentError listing the names

struct Overrides {
  std::vector<std::string> set;      // "key.path=value"; the value is JSON, or else a string
  std::vector<std::string> without;  // regularizers to disable (each must exist)
};

// `what` is a built-in name or a path to a JSON file (anything with a '/' or ending in .json).
Experiment load_experiment(const std::string& what, const Overrides& overrides = {});
// JSON as a person writes it: what fits in 100 columns on one line, the rest one value a line.
std::string to_text(const Json& j);

// An experiment from its JSON, the dopesheet already inline (the schema: experiment.cpp);
// stock is left false.
Experiment read_experiment(const Json& j, const std::string& source);
// A stored experiment -- a run folder's experiment.json, a checkpoint's metadata -- from its
// JSON text: resolved, its dopesheet inline (a file name there is an error: what was run is
// never re-read from a path).
Experiment parse_experiment(const std::string& text, const std::string& source);
Experiment load_stored_experiment(const std::string& path);

}  // namespace sg::train
