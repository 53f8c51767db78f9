// `spheregrad train`: runs a preset (Ex 1.7 at seed 0 by default) and writes its run folder.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "examples/cli.hpp"
#include "examples/train.hpp"

namespace sg::cli {
namespace {

const char* const kHelp =
    "usage: spheregrad train [options]\n"
    "\n"
    "Trains a color autoencoder with the selective regularizers of a preset, following its\n"
    "dopesheet, and writes a run folder. With no options: preset ex-1.7 at seed 0.\n"
    "\n"
    "options:\n"
    "  --preset NAME         the experiment (default ex-1.7; known: %s)\n"
    "  --seed N              seed of every random stream (default 0)\n"
    "  --steps N             train N steps instead of the dopesheet's length\n"
    "  --batch N             batch size of sampled phases (default: the preset's, 64 for ex-1.7;\n"
    "                        full-batch phases always take their whole set)\n"
    "  --threads N           OpenMP threads (default 1; results are identical at any count)\n"
    "  --dopesheet FILE      use this dopesheet instead of the preset's embedded one\n"
    "  --without NAME        drop a regularizer (ablations); repeatable\n"
    "  --snapshot-every N    save validation latents every N steps (default 250; 0 = none)\n"
    "  --out DIR             run folder (default out/<preset>-seed<N>)\n"
    "  --quiet               no progress bar and no summary on stdout\n"
    "  --checkpoint-every N  every N steps, replace DIR/checkpoint.safetensors with the full\n"
    "                        state of the run, so that a killed run can be resumed\n"
    "  --resume DIR          continue the run in DIR from its last checkpoint, with the options it\n"
    "                        was started with (only --threads and --quiet may be given); it ends\n"
    "                        bit-identical to a run that was never interrupted\n"
    "  --overwrite           replace a finished run in the output folder (refused otherwise)\n"
    "  --log-every N         a metrics.csv row every N steps (default 1)\n"
    "\n"
    "The run folder gets metrics.csv (one row per step), summary.json (final metrics),\n"
    "latents.npy + latent_steps.npy (snapshots of the RGB 8^3 cube), checkpoint.safetensors,\n"
    "latents_dim1_dim{0,2,3}.svg, losses.svg, schedule.svg and report.html.\n";

}  // namespace

int train(int argc, char** argv) {
  train::Options o;
  std::string resume_dir, experiment = "ex-1.7";
  train::Overrides overrides;
  std::string names;
  for (const std::string& n : train::builtin_names()) names += (names.empty() ? "" : ", ") + n;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf(kHelp, names.c_str());
      return 0;
    }
    if (arg == "--quiet" || arg == "--overwrite") {
      (arg == "--quiet" ? o.quiet : o.overwrite) = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "spheregrad train: %s needs a value (try --help)\n", arg.c_str());
      return 2;
    }
    const char* value = argv[++i];
    try {
      if (arg == "--preset") experiment = value;
      else if (arg == "--seed") overrides.set.push_back("seed=" + std::to_string(parse_integer("--seed", value, 0)));
      else if (arg == "--steps") overrides.set.push_back("steps=" + std::to_string(parse_integer("--steps", value, 1)));
      else if (arg == "--batch") overrides.set.push_back("batch=" + std::to_string(parse_integer("--batch", value, 2)));
      else if (arg == "--threads") o.threads = int(parse_integer("--threads", value, 1));
      else if (arg == "--dopesheet") overrides.set.push_back("dopesheet=" + std::string(value));
      else if (arg == "--without") overrides.without.push_back(value);
      else if (arg == "--set") overrides.set.push_back(value);
      else if (arg == "--snapshot-every")
        overrides.set.push_back("snapshot_every=" + std::to_string(parse_integer("--snapshot-every", value, 0)));
      else if (arg == "--out") o.out = value;
      else if (arg == "--checkpoint-every") o.checkpoint_every = int(parse_integer("--checkpoint-every", value, 1));
      else if (arg == "--resume") resume_dir = value;
      else if (arg == "--log-every") overrides.set.push_back("log_every=" + std::to_string(parse_integer("--log-every", value, 1)));
      else {
        std::fprintf(stderr, "spheregrad train: unknown option '%s' (try --help)\n", arg.c_str());
        return 2;
      }
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "spheregrad train: %s\n", e.what());
      return 2;
    }
  }
  if (!resume_dir.empty()) {
    // A resumed run takes its own options from its checkpoint; only these two may differ.
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg.rfind("--", 0) == 0 && arg != "--resume" && arg != "--threads" && arg != "--quiet") {
        std::fprintf(stderr, "spheregrad train: --resume continues a run with its own options; %s cannot be given "
                             "(only --threads and --quiet)\n", arg.c_str());
        return 2;
      }
    }
    const int threads = o.threads;
    const bool quiet = o.quiet;
    o = train::resume_options(resume_dir);
    o.threads = threads;
    o.quiet = quiet;
  } else {
    o.experiment = train::load_experiment(experiment, overrides);
  }
  const train::Result r = train::run(o);
  if (!o.quiet) {
    const train::FinalMetrics& m = r.metrics;
    std::printf("%s seed %llu: %d steps in %.3f s (%.0f steps/s), peak RSS %.1f MB\n", o.experiment.label().c_str(), o.experiment.seed,
                r.steps, r.train_seconds, r.steps_per_second, r.peak_rss_kb / 1024.0);
    std::printf("  recon MSE (RGB 8^3)   %.3g\n", m.recon_mse_validation);
    std::printf("  separate (last step)  %.3g\n", m.separate_final);
    std::printf("  red: cos to +dim0     %.4f   angle in hue plane %.1f deg\n", m.red_cosine, m.red_angle_deg);
    std::printf("  radius                mean %.3f  std %.3f\n", m.radius_mean, m.radius_std);
    std::printf("  hue order (360 hues)  %d inversions, winding %d -> %s\n", m.hue_inversions, m.hue_winding,
                m.crumpled ? "CRUMPLED" : "clean wheel");
    std::printf("  planarity (vibrant)   %.3g\n", m.planarity_vibrant);
    std::printf("  training loss         total %.4g  recon %.4g (last step)\n", r.final_total, r.final_recon);
    const train::Experiment& preset = o.experiment;
    if (preset.heldout)
      std::printf("  trained hues          %d inversions, winding %d, gap %.1f deg after hue %d (held out %d-%d)\n",
                  m.train_hue_inversions, m.train_hue_winding, m.train_gap_deg, m.train_gap_after_deg,
                  preset.heldout->first_deg, preset.heldout->last_deg);
    if (preset.model.bottleneck == 3)
      std::printf("  dome (v = 0.5 hues)   height %.3f  same side %.3f\n", m.dome_height, m.dome_consistency);
    std::printf("  outputs in %s/ (open report.html)\n", r.out_dir.c_str());
  }
  return 0;
}

}  // namespace sg::cli
