// spheregrad: the command-line program (examples/cli.hpp).
#include "examples/cli.hpp"

int main(int argc, char** argv) { return sg::cli::run_program(argc, argv); }
