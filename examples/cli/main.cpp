// spheregrad: the command-line program (examples/cli/cli.hpp).
#include "examples/cli/cli.hpp"

int main(int argc, char** argv) { return sg::cli::run_program(argc, argv); }
