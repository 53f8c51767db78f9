// examples/experiment/train.hpp -- the training loop of the color experiments.
//
// Contract:
// - A run is an Experiment (examples/experiment/experiment.hpp, already checked) plus how to
//   run it: threads, output folder, checkpoints, probes. A regularizer's weight at each step is
//   the dopesheet column of the same name; the learning rate is column `lr`; the
//   reconstruction weight is column `loss-recon` when present, else 1. A curriculum's data
//   settings are columns too: `data-fraction` (Focus::Vibrancy), `data-hues` and
//   `data-vibrancies` (Focus::VibrancyAndHues).
// - Data: each dopesheet phase takes its batches from one source -- either a whole small set
//   every step (full batch, in order) or draws with replacement from a weighted set. A focused
//   source's weights are bias x focus, recomputed in place (no allocation) when the scheduled
//   fraction changes; with focus-weighted losses each sample's term is weighted by its focus
//   normalized over the batch.
// - Per step: read the timeline, set lr, take the batch, draw its labels, forward, add each
//   regularizer whose weight is not 0 and which selects some sample, backward, Adam step,
//   rewind. A non-finite loss term or gradient stops the run naming the term and step.
// - Randomness: Stream::Init builds the model, Stream::Sampler draws the batches,
//   Stream::Labels draws the labels, all from the run's seed. The thread count changes no bit.
// - Outputs land in one folder: experiment.json (the resolved experiment), metrics.csv,
//   summary.json, latents.npy (+ latent_steps.npy), checkpoint.safetensors, figures (SVG) and
//   report.html. Each file is written atomically.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "examples/color/metrics.hpp"
#include "examples/experiment/experiment.hpp"

namespace sg::train {

extern const char* const kVersion;  // of checkpoints and summaries, and `spheregrad --version`

struct Options {
  Experiment experiment;     // what to run (load_experiment)
  int threads = 1;
  std::string out;           // default out/<experiment label>-seed<N>
  bool quiet = false;
  bool write_outputs = true; // false: train and measure only (tests, sweeps)
  int probe_every = 0;       // > 0: split each term's gradient every N steps (GradientProbe)
  // > 0: every N steps, replace checkpoint.safetensors (atomically) with everything a resumed
  // run needs: parameters, Adam state, random streams, curves, snapshots, metrics length.
  int checkpoint_every = 0;
  bool resume = false;       // continue the run in `out` from its checkpoint (see resume_options)
  bool overwrite = false;    // allow replacing a finished run in `out`
};

// The run folder an experiment lands in by default: out/<label>-seed<N>.
std::string default_out(const Experiment& e);

// The options a run in `dir` was started with, read from its checkpoint, with resume set: a
// killed run continues with `spheregrad train --resume DIR` and ends bit-identical to a run
// that was never interrupted. Throws std::runtime_error when `dir` holds no resumable run.
Options resume_options(const std::string& dir);

// The gradient of one weighted term with respect to the bottleneck, split into its radial and
// tangential parts (loss::split_gradient), averaged over the rows the term acts on (a selective
// term's selected samples; every row for the others).
struct GradientProbe {
  int step = 0;
  std::string term;
  double weight = 0, raw = 0;       // the term's schedule weight and unweighted value
  int rows = 0;                     // the rows averaged over
  double radial = 0;                // mean of g.z/|z|: > 0 means descent pulls latents inward
  double radial_abs = 0, tangential_abs = 0;  // mean |radial part|, mean |tangential part|
  double radial_cosine = 0;         // mean |z.g| / (|z| |g|): 1 radial, 0 tangential
};

struct Result {
  std::string out_dir;
  int steps = 0;
  double train_seconds = 0, steps_per_second = 0;
  long peak_rss_kb = 0;
  std::size_t tape_bytes = 0;   // the tape's arena after the last step
  double tape_bytes_bound = 0;  // the bound on it the run was checked against before it began
  double final_total = 0, final_recon = 0;
  color::FinalMetrics metrics;
  std::vector<GradientProbe> probes;  // with Options::probe_every
};

// Trains; throws std::runtime_error (bad names, non-finite values, unwritable outputs).
// A run folder is finished when its summary.json exists (written last); while a run is in
// progress its state is resume.safetensors and metrics.csv.tmp, and whatever stops it -- an
// error, SIGKILL at any instant, a full disk -- leaves a folder that either resumes from its
// last checkpoint or, before the first one, is started again by the same command.
Result run(const Options& options);

// From now on SIGINT and SIGTERM stop a run at the next step boundary, after a checkpoint, so
// that it resumes (`spheregrad train` calls this; a library user may).
void stop_on_signals();

// A finished run folder: its experiment (experiment.json) and its result (summary.json; no
// gradient probes, no timings). Throws std::runtime_error naming the folder and the file.
struct FinishedRun {
  Experiment experiment;
  Result result;
};
FinishedRun load_run(const std::string& dir);

}  // namespace sg::train
