// Tests of the command-line program's answers to bad input (docs/errors.md): each case exits
// non-zero with a message on stderr that names what was wrong, and nothing already written is
// lost. The program is the one `make test` builds ($SPHEREGRAD_CLI, else build/spheregrad).
#include <doctest/doctest.h>

#include "tests/test_util.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

std::string cli() {
  const char* env = std::getenv("SPHEREGRAD_CLI");
  return env ? env : "build/spheregrad";
}

struct Outcome {
  int code;
  std::string output;  // stdout and stderr together
};

Outcome run(const std::string& args) {
  const std::string command = cli() + " " + args + " 2>&1";
  std::FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Exit code `code` and a message containing `text`.
void expect(const std::string& args, int code, const std::string& text) {
  const Outcome o = run(args);
  INFO("spheregrad ", args, "\n", o.output);
  CHECK(o.code == code);
  CHECK(o.output.find(text) != std::string::npos);
}

}  // namespace

TEST_CASE("cli: bad commands and flags are refused with a clear message") {
  if (!fs::exists(cli())) {
    MESSAGE("no " << cli() << " (build it first): skipped");
    return;
  }
  expect("", 2, "spheregrad: A subcommand is required (try --help)");
  expect("frobnicate", 2, "unknown command 'frobnicate'");
  expect("train --frobnicate", 2, "spheregrad train: The following argument was not expected: --frobnicate");
  expect("train --frobnicate 1", 2, "--frobnicate");
  expect("train --seed -1", 2, "--seed expects an integer >= 0, got '-1'");
  expect("train --steps 0", 2, "--steps expects an integer >= 1, got '0'");
  expect("train --steps 12x", 2, "--steps expects an integer >= 1, got '12x'");
  expect("train --steps=12x", 2, "--steps expects an integer >= 1, got '12x'");
  expect("train --batch 1", 2, "--batch expects an integer >= 2, got '1'");
  expect("train --threads 0", 2, "--threads expects an integer >= 1, got '0'");
  expect("train --steps", 2, "--steps: 1 required N missing");
  expect("train --preset ex-9 --steps 1", 1, "unknown preset 'ex-9'");
  expect("train --without reg-nope --steps 1", 1, "--without reg-nope: preset ex-1.7 has no regularizer");
  expect("train --dopesheet /nonexistent/x.csv --steps 1", 1, "/nonexistent/x.csv");
  expect("train --resume /nonexistent/run", 1, "cannot resume: /nonexistent/run/checkpoint.safetensors does not exist");
  expect("schedule", 2, "FILE.csv is required");
  expect("schedule /nonexistent/x.csv", 1, "/nonexistent/x.csv");
  expect("train --help", 0, "Usage: spheregrad train [OPTIONS]");
  expect("--version", 0, "spheregrad 0.1.0");
}

TEST_CASE("cli: a malformed dopesheet names file, line and column; a finished run is never overwritten") {
  if (!fs::exists(cli())) {
    MESSAGE("no " << cli() << ": skipped");
    return;
  }
  const fs::path dir = sg::test::temp_dir("cli");
  const fs::path sheet = dir / "bad.csv";
  std::ofstream(sheet) << "STEP,lr,reg-separate\n0,0.01,0.001\n10,0.0x1,\n";
  expect("schedule " + sheet.string(), 1, sheet.string() + ":3:2:");
  expect("train --steps 5 --dopesheet " + sheet.string() + " --out " + (dir / "r").string(), 1, sheet.string() + ":3:2:");
  CHECK_FALSE(fs::exists(dir / "r" / "metrics.csv"));

  // A finished run: a second run into the same folder is refused and leaves every byte as it was.
  const std::string out = (dir / "done").string();
  REQUIRE(run("train --steps 20 --snapshot-every 0 --quiet --out " + out).code == 0);
  const std::string before = sg::test::read_file(dir / "done" / "metrics.csv");
  expect("train --steps 30 --quiet --out " + out, 1, "already holds a run");
  CHECK(sg::test::read_file(dir / "done" / "metrics.csv") == before);
  expect("train --resume " + out, 1, "the run is already complete");
  expect("train --resume " + out + " --seed 3", 2, "--seed cannot be given");

  // A corrupted checkpoint is a clear error, never a crash.
  const fs::path ckpt = dir / "done" / "checkpoint.safetensors";
  const std::string bytes = sg::test::read_file(ckpt);
  std::ofstream(ckpt, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect("train --resume " + out, 1, "checkpoint.safetensors");
  fs::remove_all(dir);
}
