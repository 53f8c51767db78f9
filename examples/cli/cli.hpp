// The `spheregrad` program: one CLI11 parser, one subcommand per job.
//
// Each add_* registers its command on the program: its options, its help, and a callback that
// runs it and stores the process exit code in `exit_code`. Exit codes (run_program): 0 on
// success and for --help/--version, 2 for a malformed command line, 1 for an error found while
// running. A callback that finds the options inconsistent throws CLI::ValidationError (exit 2).
#pragma once

#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "examples/experiment/experiment.hpp"

namespace sg::cli {

// Parses argv, runs the chosen command and returns the process exit code; messages go to
// stderr, help and the version to stdout. A bad experiment (train::ExperimentError) is a
// usage error too: exit 2, before anything is written.
int run_program(int argc, char** argv);

void add_train(CLI::App& program, int& exit_code);
void add_demo(CLI::App& program, int& exit_code);
void add_schedule(CLI::App& program, int& exit_code);
void add_sweep(CLI::App& program, int& exit_code);
void add_compare(CLI::App& program, int& exit_code);
void add_llc(CLI::App& program, int& exit_code);
void add_intervene(CLI::App& program, int& exit_code);
void add_experiment(CLI::App& program, int& exit_code);
void add_thomson(CLI::App& program, int& exit_code);

// Numbers on the command line: the whole text must be one number in range, or
// std::invalid_argument names the option, the range and what it got ("--steps expects an
// integer >= 1, got '12x'"; "--chains expects an integer in [1, 2147483647], got ..."). parse_number without a bound accepts any finite number.
long parse_integer(const std::string& option, const char* text, long lo,
                   long hi = std::numeric_limits<long>::max());
double parse_number(const std::string& option, const char* text,
                    double lo = -std::numeric_limits<double>::infinity(), bool lo_allowed = true);
// v with `digits` significant digits (%g).
std::string figure(double v, int digits = 6);

// An option whose text `convert` turns into settings while the command line is parsed: the
// std::invalid_argument it throws becomes a usage error (exit 2) with its message unchanged, so
// that it names the option and the bad text.
CLI::Option* add_converted(CLI::App& command, const std::string& name,
                           std::function<void(const std::string&)> convert, const std::string& help);

// --threads and --jobs: far beyond any machine's cores, far below what would exhaust it.
inline constexpr long kMaxThreads = 1024;

// An integer option whose value must fit its target: never cut to 32 bits (hi: a tighter bound).
template <class T>
constexpr long largest_integer() {
  if constexpr (std::is_integral_v<T>)
    return long(std::min<unsigned long long>(std::numeric_limits<T>::max(), std::numeric_limits<long>::max()));
  return std::numeric_limits<long>::max();  // a whole number stored as a double
}

template <class T>
CLI::Option* add_integer(CLI::App& command, const std::string& name, T& target, long lo, const std::string& help,
                         long hi = largest_integer<T>()) {
  auto convert = [&target, name, lo, hi](const std::string& text) { target = T(parse_integer(name, text.c_str(), lo, hi)); };
  return add_converted(command, name, convert, help)->type_name("N");
}

inline CLI::Option* add_number(CLI::App& command, const std::string& name, double& target, const std::string& help,
                               double lo = -std::numeric_limits<double>::infinity(), bool lo_allowed = true) {
  auto convert = [&target, name, lo, lo_allowed](const std::string& text) {
    target = parse_number(name, text.c_str(), lo, lo_allowed);
  };
  return add_converted(command, name, convert, help)->type_name("X");
}

// The output a command is about to write already exists: refused (exit 1) unless --overwrite,
// so that no command replaces earlier results by accident.
void refuse_to_overwrite(const std::string& path, bool overwrite);

// "ex-1.2, ex-1.3, ..." for the help texts.
std::string known_experiments();

// The options that change an experiment, the same on train, sweep, compare and experiment:
// --set KEY.PATH=VALUE and --without NAME (repeatable), and the shorthands --steps, --batch,
// --dopesheet, --snapshot-every, --log-every (and --seed where one run is meant), applied
// after every --set.
struct ExperimentOverrides {
  std::vector<std::string> set, without, shorthands;
  void add_to(CLI::App& command, bool with_seed);
  train::Overrides get() const;
};

}  // namespace sg::cli
