// Subcommands of the `spheregrad` program. Each takes the arguments after its own name
// (argv[0] is the subcommand), prints its help on --help, writes errors to stderr and
// returns the process exit code.
#pragma once

namespace sg::cli {

int demo(int argc, char** argv);
int train(int argc, char** argv);
int schedule(int argc, char** argv);
int sweep(int argc, char** argv);
int compare(int argc, char** argv);
int llc(int argc, char** argv);
int intervene(int argc, char** argv);

}  // namespace sg::cli
