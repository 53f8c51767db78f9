// `spheregrad train`: runs a preset (Ex 1.7 at seed 0 by default) and writes its run folder.
#include <cstdio>
#include <memory>
#include <string>

#include "examples/cli.hpp"
#include "examples/train.hpp"

namespace sg::cli {
namespace {

struct Settings {
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
  }
  const train::Result r = train::run(o);
  if (!o.quiet) {
    const train::FinalMetrics& m = r.metrics;
    std::printf("%s seed %llu: %d steps in %.3f s (%.0f steps/s), peak RSS %.1f MB\n", o.preset.c_str(), o.seed,
                r.steps, r.train_seconds, r.steps_per_second, r.peak_rss_kb / 1024.0);
    std::printf("  recon MSE (RGB 8^3)   %.3g\n", m.recon_mse_validation);
    std::printf("  separate (last step)  %.3g\n", m.separate_final);
    std::printf("  red: cos to +dim0     %.4f   angle in hue plane %.1f deg\n", m.red_cosine, m.red_angle_deg);
    std::printf("  radius                mean %.3f  std %.3f\n", m.radius_mean, m.radius_std);
    std::printf("  hue order (360 hues)  %d inversions, winding %d -> %s\n", m.hue_inversions, m.hue_winding,
                m.crumpled ? "CRUMPLED" : "clean wheel");
    std::printf("  planarity (vibrant)   %.3g\n", m.planarity_vibrant);
    std::printf("  training loss         total %.4g  recon %.4g (last step)\n", r.final_total, r.final_recon);
    const train::Preset& preset = train::find_preset(o.preset);
    if (preset.heldout)
      std::printf("  trained hues          %d inversions, winding %d, gap %.1f deg after hue %d (held out %d-%d)\n",
                  m.train_hue_inversions, m.train_hue_winding, m.train_gap_deg, m.train_gap_after_deg,
                  preset.heldout->first_deg, preset.heldout->last_deg);
    if (preset.model == "Ex13")
      std::printf("  dome (v = 0.5 hues)   height %.3f  same side %.3f\n", m.dome_height, m.dome_consistency);
    std::printf("  outputs in %s/ (open report.html)\n", r.out_dir.c_str());
  }
  return 0;
}

}  // namespace

void add_train(CLI::App& program, int& exit_code) {
  auto s = std::make_shared<Settings>();
  train::Options& o = s->options;
  CLI::App* command =
      program.add_subcommand("train", "train a color autoencoder on a preset (default: Ex 1.7, seed 0)");
  command->add_option("--preset", o.preset, "the experiment (default ex-1.7; known: " + known_presets() + ")")
      ->type_name("NAME");
  add_integer(*command, "--seed", o.seed, 0, "seed of every random stream (default 0)");
  add_integer(*command, "--steps", o.steps, 1, "train N steps instead of the dopesheet's length");
  add_integer(*command, "--batch", o.batch, 2,
              "batch size of sampled phases (default: the preset's, 64 for ex-1.7;\n"
              "full-batch phases always take their whole set)");
  add_integer(*command, "--threads", o.threads, 1, "OpenMP threads (default 1; results are identical at any count)");
  command->add_option("--dopesheet", o.dopesheet, "use this dopesheet instead of the preset's embedded one")
      ->type_name("FILE");
  command->add_option("--without", o.without, "drop a regularizer (ablations); repeatable")
      ->type_name("NAME")
      ->allow_extra_args(false);
  add_integer(*command, "--snapshot-every", o.snapshot_every, 0,
              "save validation latents every N steps (default 250; 0 = none)");
  command->add_option("--out", o.out, "run folder (default out/<preset>-seed<N>)")->type_name("DIR");
  command->add_flag("--quiet", o.quiet, "no progress bar and no summary on stdout");
  add_integer(*command, "--checkpoint-every", o.checkpoint_every, 1,
              "every N steps, replace DIR/checkpoint.safetensors with the full\n"
              "state of the run, so that a killed run can be resumed");
  command->add_option("--resume", s->resume,
                      "continue the run in DIR from its last checkpoint, with the options it\n"
                      "was started with (only --threads and --quiet may be given); it ends\n"
                      "bit-identical to a run that was never interrupted")
      ->type_name("DIR");
  command->add_flag("--overwrite", o.overwrite, "replace a finished run in the output folder (refused otherwise)");
  add_integer(*command, "--log-every", o.log_every, 1, "a metrics.csv row every N steps (default 1)");
  command->footer(
      "Trains a color autoencoder with the selective regularizers of a preset, following its\n"
      "dopesheet, and writes a run folder. With no options: preset ex-1.7 at seed 0.\n"
      "\n"
      "The run folder gets metrics.csv (one row per step), summary.json (final metrics),\n"
      "latents.npy + latent_steps.npy (snapshots of the RGB 8^3 cube), checkpoint.safetensors,\n"
      "latents_dim1_dim{0,2,3}.svg, losses.svg, schedule.svg and report.html.");
  command->callback([command, s, &exit_code] { exit_code = train(*command, *s); });
}

}  // namespace sg::cli
