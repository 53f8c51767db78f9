// `spheregrad train`: runs an experiment (a built-in, or a JSON file) and writes its run folder.
#include <cstdio>
#include <memory>
#include <string>

#include "examples/cli/cli.hpp"
#include "examples/experiment/train.hpp"

namespace sg::cli {
namespace {

struct Settings {
  std::string experiment = "ex-1.7";
  ExperimentOverrides overrides;
  train::Options options;
  std::string resume;  // a run folder to continue
};

int train(const CLI::App& command, const Settings& s) {
  train::Options o = s.options;
  if (!s.resume.empty()) {
    // A resumed run takes its own options from its checkpoint; only these two may differ.
    for (const CLI::Option* option : command.get_options()) {
      const std::string name = option->get_name();
      if (option->count() && name != "--resume" && name != "--threads" && name != "--quiet")
        throw CLI::ValidationError("--resume continues a run with its own options; " + name +
                                   " cannot be given (only --threads and --quiet)");
    }
    o = train::resume_options(s.resume);
    o.threads = s.options.threads;
    o.quiet = s.options.quiet;
  } else {
    o.experiment = train::load_experiment(s.experiment, s.overrides.get());
  }
  train::stop_on_signals();
  const train::Result r = train::run(o);
  if (!o.quiet) {
    const train::Experiment& e = o.experiment;
    const color::FinalMetrics& m = r.metrics;
    std::printf("%s seed %llu: %d steps in %.3f s (%.0f steps/s), peak RSS %.1f MB\n", e.label().c_str(), e.seed,
                r.steps, r.train_seconds, r.steps_per_second, r.peak_rss_kb / 1024.0);
    std::printf("  recon MSE (RGB 8^3)   %.3g\n", m.recon_mse_validation);
    std::printf("  separate (last step)  %.3g\n", m.separate_final);
    std::printf("  red: cos to +dim0     %.4f   angle in hue plane %.1f deg\n", m.red_cosine, m.red_angle_deg);
    std::printf("  radius                mean %.3f  std %.3f\n", m.radius_mean, m.radius_std);
    std::printf("  hue order (360 hues)  %d inversions, winding %d -> %s\n", m.hue_inversions, m.hue_winding,
                m.crumpled ? "CRUMPLED" : "clean wheel");
    std::printf("  largest fold / gap    %.3g / %.3g deg (3 rings; a fold >= %.0f deg is visible); spacing off 60 by %.3g deg\n",
                m.fold_deg, m.gap_deg, color::FinalMetrics::kVisibleFoldDeg, m.spacing_error_deg);
    std::printf("  planarity (vibrant)   %.3g\n", m.planarity_vibrant);
    std::printf("  training loss         total %.4g  recon %.4g (last step)\n", r.final_total, r.final_recon);
    if (e.heldout)
      std::printf("  trained hues          %d inversions, winding %d, gap %.1f deg after hue %d (held out %d-%d)\n",
                  m.train_hue_inversions, m.train_hue_winding, m.train_gap_deg, m.train_gap_after_deg,
                  e.heldout->first_deg, e.heldout->last_deg);
    if (e.model.bottleneck == 3)
      std::printf("  dome (v = 0.5 hues)   height %.3f  same side %.3f\n", m.dome_height, m.dome_consistency);
    std::printf("  outputs in %s/ (open report.html)\n", r.out_dir.c_str());
  }
  return 0;
}

}  // namespace

void add_train(CLI::App& program, int& exit_code) {
  auto s = std::make_shared<Settings>();
  train::Options& o = s->options;
  CLI::App* command = program.add_subcommand("train", "train an experiment: a built-in (default ex-1.7) or a JSON file");
  command->add_option("experiment", s->experiment,
                      "a built-in experiment (" + known_experiments() + ")\nor an experiment file (.json)")
      ->type_name("NAME|FILE");
  command->add_option("--preset", s->experiment, "the same as the positional NAME")->type_name("NAME");
  s->overrides.add_to(*command, true);
  add_integer(*command, "--threads", o.threads, 1, "OpenMP threads (default 1; results are identical at any count)", kMaxThreads);
  command->add_option("--out", o.out, "run folder (default out/<label>-seed<N>)")->type_name("DIR");
  command->add_flag("--quiet", o.quiet, "no progress bar and no summary on stdout");
  add_integer(*command, "--checkpoint-every", o.checkpoint_every, 1,
              "every N steps, replace DIR/checkpoint.safetensors with the full\n"
              "state of the run, so that a killed run can be resumed");
  command->add_option("--resume", s->resume,
                      "continue the run in DIR from its last checkpoint, with the experiment\n"
                      "it was started with (only --threads and --quiet may be given); it ends\n"
                      "bit-identical to a run that was never interrupted")
      ->type_name("DIR");
  command->add_flag("--overwrite", o.overwrite, "replace a finished run in the output folder (refused otherwise)");
  command->footer(
      "Trains a color autoencoder as the experiment describes (model, data, labels, regularizers,\n"
      "dopesheet; docs/experiments.md) and writes a run folder. With no arguments: ex-1.7, seed 0.\n"
      "'spheregrad experiment show NAME' prints a built-in experiment as a file to start from.\n"
      "\n"
      "The run folder (default out/<label>-seed<N>; the label is the experiment's name, plus a\n"
      "short hash of its content when it differs from the built-in of that name) gets\n"
      "experiment.json (the resolved experiment: 'spheregrad train DIR/experiment.json' repeats\n"
      "the run byte for byte), metrics.csv, summary.json, latents.npy + latent_steps.npy,\n"
      "checkpoint.safetensors, latents_dim1_dim{0,2,3}.svg, losses.svg, schedule.svg and\n"
      "report.html.\n"
      "\n"
      "Examples:\n"
      "  spheregrad train ex-1.5 --seed 3\n"
      "  spheregrad train --set model.bottleneck=5 --set regularizers.reg-separate.power=6\n"
      "  spheregrad train my-experiment.json --without reg-polar");
  command->callback([command, s, &exit_code] { exit_code = train(*command, *s); });
}

}  // namespace sg::cli
