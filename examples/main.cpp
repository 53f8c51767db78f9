// spheregrad: the command-line program. Dispatches to one subcommand per job.
#include <cstdio>
#include <cstring>
#include <exception>

#include "examples/cli.hpp"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"train", sg::cli::train, "train a color autoencoder on a preset (default: Ex 1.7, seed 0)"},
    {"demo", sg::cli::demo, "fit a tiny model with the autodiff tape (a smoke test of the engine)"},
    {"schedule", sg::cli::schedule, "realize a dopesheet: every property at every step, as CSV or SVG"},
    {"sweep", sg::cli::sweep, "run seeds x presets x ablations into one table (parallel, sharded)"},
    {"compare", sg::cli::compare, "train presets side by side: aligned curves, spikes, gradient parts"},
    {"llc", sg::cli::llc, "estimate the local learning coefficient of a trained model by SGLD"},
    {"intervene", sg::cli::intervene, "suppress, repel, ablate or prune a concept in trained runs; score it"},
};

void print_help(std::FILE* out) {
  std::fprintf(out, "usage: spheregrad <command> [options]\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\n'spheregrad <command> --help' describes each command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_help(stderr);
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_help(stdout);
    return 0;
  }
  for (const Command& c : kCommands) {
    if (!std::strcmp(argv[1], c.name)) {
      try {
        return c.run(argc - 1, argv + 1);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "spheregrad %s: error: %s\n", c.name, e.what());
        return 1;
      }
    }
  }
  std::fprintf(stderr, "spheregrad: unknown command '%s'\n\n", argv[1]);
  print_help(stderr);
  return 2;
}
