// `spheregrad experiment`: the built-in experiments as files to start from, and a check of an
// experiment file without running it.
#include <cstdio>
#include <memory>
#include <string>

#include "examples/cli/cli.hpp"
#include "examples/experiment/train.hpp"
#include "schedule/dopesheet.hpp"

namespace sg::cli {
namespace {

struct Settings {
  std::string experiment;
  ExperimentOverrides overrides;
};

void list() {
  for (const std::string& name : train::builtin_names()) {
    const train::Experiment e = train::load_experiment(name);
    std::printf("%-18s %s\n", name.c_str(), e.description.c_str());
  }
}

void check(const Settings& s) {
  const train::Experiment e = train::load_experiment(s.experiment, s.overrides.get());
  const schedule::Dopesheet sheet = schedule::parse_dopesheet(e.dopesheet);
  int enabled = 0;
  for (const train::Regularizer& r : e.regularizers) enabled += r.enabled;
  std::printf("%s: ok -- %s (%s), %s, %d steps at batch %d, seed %llu, %zu data source(s), %zu label(s), "
              "%d of %zu regularizer(s) enabled; runs into %s/\n",
              s.experiment.c_str(), e.label().c_str(), e.stock ? "the built-in" : "custom", e.model.name().c_str(),
              e.steps > 0 ? e.steps : sheet.length, e.batch, e.seed, e.data.size(), e.labels.size(), enabled,
              e.regularizers.size(), train::default_out(e).c_str());
}

}  // namespace

void add_experiment(CLI::App& program, int& exit_code) {
  CLI::App* command = program.add_subcommand("experiment", "list, show and check experiment files");
  command->require_subcommand(1);
  command->footer(
      "An experiment file (JSON) describes a whole run: model, data per phase, label rules,\n"
      "regularizers, dopesheet, steps, batch, seed (docs/experiments.md). Start from a built-in:\n"
      "  spheregrad experiment show ex-1.7 > mine.json     (edit it)\n"
      "  spheregrad experiment check mine.json\n"
      "  spheregrad train mine.json");

  CLI::App* list_command = command->add_subcommand("list", "the built-in experiments, one line each");
  list_command->callback([&exit_code] {
    list();
    exit_code = 0;
  });

  for (const bool show : {true, false}) {
    auto s = std::make_shared<Settings>();
    CLI::App* sub = command->add_subcommand(
        show ? "show" : "check",
        show ? "print an experiment resolved (defaults written out, the dopesheet inline, --set applied)"
             : "check an experiment without running it: exit 0 and a one-line summary, or exit 2 naming\n"
               "the JSON path of the first problem");
    sub->add_option("experiment", s->experiment, "a built-in (" + known_experiments() + ") or a .json file")
        ->type_name("NAME|FILE")
        ->required();
    s->overrides.add_to(*sub, true);
    sub->callback([s, show, &exit_code] {
      if (show) std::fputs(train::to_text(train::load_experiment(s->experiment, s->overrides.get()).resolved).c_str(), stdout);
      else check(*s);
      exit_code = 0;
    });
  }
}

}  // namespace sg::cli
