// Subcommands of the `spheregrad` program. Each takes the arguments after its own name
// (argv[0] is the subcommand), prints its help on --help, writes errors to stderr and
// returns the process exit code.
#pragma once

#include <limits>
#include <string>

namespace sg::cli {

// Numbers on the command line: the whole text must be one number in range, or
// std::invalid_argument names the option, the range and what it got ("--steps expects an
// integer >= 1, got '12x'"). parse_number without a bound accepts any finite number.
long parse_integer(const std::string& option, const char* text, long lo);
double parse_number(const std::string& option, const char* text,
                    double lo = -std::numeric_limits<double>::infinity(), bool lo_allowed = true);
// v with `digits` significant digits (%g).
std::string figure(double v, int digits = 6);

int demo(int argc, char** argv);
int train(int argc, char** argv);
int schedule(int argc, char** argv);
int sweep(int argc, char** argv);
int compare(int argc, char** argv);
int llc(int argc, char** argv);
int intervene(int argc, char** argv);

}  // namespace sg::cli
