// examples/cli/cli.cpp -- the program's parser and what every subcommand parses the same way.
#include "examples/cli/cli.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "examples/experiment/train.hpp"

namespace sg::cli {

namespace {

// "spheregrad sweep merge": the program and the commands chosen so far, to head messages.
std::string command_path(const CLI::App& program) {
  std::string path = program.get_name();
  for (const CLI::App* app = &program; !app->get_subcommands().empty();) {
    app = app->get_subcommands().front();
    path += " " + app->get_name();
  }
  return path;
}

// CLI11 reports a first word that is no command as a missing command; name the word instead.
std::string usage_problem(const CLI::App& program, const CLI::ParseError& e) {
  const std::vector<std::string> rest = program.remaining();
  if (program.get_subcommands().empty() && !rest.empty())
    return (rest[0].starts_with('-') ? "unknown option '" : "unknown command '") + rest[0] + "'";
  return e.what();
}

}  // namespace

int run_program(int argc, char** argv) {
  CLI::App program("", "spheregrad");
  program.set_version_flag("--version", std::string("spheregrad ") + train::kVersion);
  program.require_subcommand(1);
  // A repeated option keeps its last value, as the hand-written parsers did (CLI11 would refuse it).
  program.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  int exit_code = 0;
  for (auto add : {add_train, add_experiment, add_demo, add_schedule, add_sweep, add_compare, add_llc, add_intervene, add_thomson})
    add(program, exit_code);
  // Only now: a subcommand inherits the footer its parent has when it is added.
  program.footer("'spheregrad <command> --help' describes each command.");
  try {
    program.parse(argc, argv);  // runs the chosen command's callback
  } catch (const CLI::Success& e) {  // --help, --version
    return program.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (try --help)\n", command_path(program).c_str(), usage_problem(program, e).c_str());
    return 2;
  } catch (const train::ExperimentError& e) {
    std::fprintf(stderr, "%s: error: %s\n", command_path(program).c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", command_path(program).c_str(), e.what());
    return 1;
  }
  return exit_code;
}

CLI::Option* add_converted(CLI::App& command, const std::string& name,
                           std::function<void(const std::string&)> convert, const std::string& help) {
  auto checked = [convert = std::move(convert)](const std::string& text) {
    try {
      convert(text);
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError(e.what());
    }
  };
  return command.add_option_function<std::string>(name, checked, help);
}

void refuse_to_overwrite(const std::string& path, bool overwrite) {
  if (!overwrite && std::filesystem::exists(path))
    throw std::runtime_error(path + " already exists: choose another output, or replace it with --overwrite");
}

std::string known_experiments() {
  std::string names;
  for (const std::string& n : train::builtin_names()) names += (names.empty() ? "" : ", ") + n;
  return names;
}

void ExperimentOverrides::add_to(CLI::App& command, bool with_seed) {
  command.add_option("--set", set,
                     "change any field of the experiment: KEY.PATH=VALUE, VALUE as JSON\n"
                     "(else a string; null restores the default), e.g.\n"
                     "--set model.bottleneck=5 --set regularizers.reg-separate.power=6; repeatable")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command.add_option("--without", without, "disable a regularizer (ablations); repeatable")
      ->type_name("NAME")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  const auto shorthand = [&](const std::string& option, const std::string& key, long lo, const std::string& help) {
    add_converted(command, option, [this, option, key, lo](const std::string& text) {
      shorthands.push_back(key + "=" + std::to_string(parse_integer(option, text.c_str(), lo)));
    }, help)->type_name("N");
  };
  if (with_seed) shorthand("--seed", "seed", 0, "seed of every random stream (--set seed=N; default 0)");
  shorthand("--steps", "steps", 1, "train N steps instead of the dopesheet's length (--set steps=N)");
  shorthand("--batch", "batch", 2, "batch size of sampled phases (--set batch=N; full-batch phases\ntake their whole set)");
  shorthand("--snapshot-every", "snapshot_every", 0, "validation latents every N steps (--set snapshot_every=N; 0 = none)");
  shorthand("--log-every", "log_every", 1, "a metrics.csv row every N steps (--set log_every=N)");
  command.add_option_function<std::string>(
             "--dopesheet", [this](const std::string& file) { shorthands.push_back("dopesheet=" + file); },
             "use this dopesheet file (--set dopesheet=FILE)")
      ->type_name("FILE");
}

train::Overrides ExperimentOverrides::get() const {
  train::Overrides o{set, without};
  o.set.insert(o.set.end(), shorthands.begin(), shorthands.end());
  return o;
}

std::string figure(double v, int digits) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

long parse_integer(const std::string& option, const char* text, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno || end == text || *end || v < lo || v > hi) {
    const std::string range = hi == std::numeric_limits<long>::max()
                                  ? ">= " + std::to_string(lo)
                                  : "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    throw std::invalid_argument(option + " expects an integer " + range + ", got '" + std::string(text).substr(0, 40) + "'");
  }
  return v;
}

double parse_number(const std::string& option, const char* text, double lo, bool lo_allowed) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  const bool bounded = std::isfinite(lo);
  if (errno || end == text || *end || !std::isfinite(v) || (bounded && (v < lo || (!lo_allowed && v == lo))))
    throw std::invalid_argument(option + " expects a number" +
                                (bounded ? std::string(lo_allowed ? " >= " : " > ") + figure(lo, 6) : "") + ", got '" +
                                text + "'");
  return v;
}

}  // namespace sg::cli
