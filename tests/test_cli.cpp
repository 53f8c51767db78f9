// Tests of the command-line program's answers to bad input (docs/errors.md): each case exits
// non-zero with a message on stderr that names what was wrong, and nothing already written is
// lost. The program is the one `make test` builds ($SPHEREGRAD_CLI, else build/spheregrad).
#include <doctest/doctest.h>

#include "tests/test_util.hpp"

#include <sys/wait.h>

#include <algorithm>
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

TEST_CASE("cli: thomson finds the tetrahedron, and refuses bad options and an existing --points file") {
  if (!fs::exists(cli())) {
    MESSAGE("no " << cli() << " (build it first): skipped");
    return;
  }
  const Outcome o = run("thomson 4 --starts 2");
  INFO(o.output);
  CHECK(o.code == 0);
  CHECK(o.output.find("known minimum: 3.674234614 (proven)") != std::string::npos);
  CHECK(o.output.find("riemannian-adam       3.674234614") != std::string::npos);
  CHECK(o.output.find("penalty-adam          3.674234614") != std::string::npos);
  expect("thomson 1", 2, "N expects an integer in [2, 100000], got '1'");
  expect("thomson 5 --method newton", 2, "--method");
  expect("thomson 5 --lr 0.01 --lr-end 0.1", 2, "spheregrad thomson: the learning rates must satisfy 0 < lr_end <= lr");
  const fs::path dir = sg::test::temp_dir("thomson-cli"), points = dir / "points.csv";
  std::ofstream(points) << "keep me";
  expect("thomson 3 --starts 1 --steps 10 --points " + points.string(), 1, "already exists");
  CHECK(sg::test::read_file(points) == "keep me");
  expect("thomson 3 --starts 1 --steps 10 --points " + (dir / "missing" / "p.csv").string(), 1, "does not exist");
  expect("thomson 3 --starts 1 --steps 10 --method riemannian --overwrite --points " + points.string(), 0, "riemannian-adam");
  CHECK(sg::test::read_file(points).rfind("method,point,x,y,z\nriemannian-adam,0,", 0) == 0);
  fs::remove_all(dir);
}

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
  expect("train --threads 0", 2, "--threads expects an integer in [1, 1024], got '0'");
  // Never cut to 32 bits: out of the target's range is an error, not another number.
  expect("train --threads 2147483648", 2, "--threads expects an integer in [1, 1024], got '2147483648'");
  expect("train --steps 4294967296", 2, "steps: expected an integer in [1, 100000000], got 4294967296");
  expect("train --batch 4294967297", 2, "batch: expected an integer in [2, 65536], got 4294967297");
  expect("llc /nonexistent --chains 4294967297", 2, "--chains expects an integer in [1, 10000], got '4294967297'");
  expect("llc /nonexistent --batch 65537", 2, "--batch expects an integer in [1, 65536], got '65537'");
  expect("llc /nonexistent --sweep-nbeta 1:2:4294967297", 2, "--sweep-nbeta COUNT expects an integer in [1, 1000]");
  expect("llc /nonexistent --chains 10000 --draws 100000", 1,
         "--chains x (--burn-in + 2 --draws) x the --sweep-nbeta COUNT is 2002000000 values kept in memory");
  expect("sweep --jobs 100000", 2, "--jobs expects an integer in [1, 1024], got '100000'");
  expect("train --steps", 2, "--steps: 1 required N missing");
  // A bad experiment is a usage error too: exit 2, nothing written.
  expect("train --preset ex-9 --steps 1", 2, "unknown experiment 'ex-9'");
  expect("train ex-9", 2, "unknown experiment 'ex-9'");
  expect("train --without reg-nope --steps 1", 2, "--without reg-nope: experiment ex-1.7 (built-in) has no regularizer");
  expect("train --dopesheet /nonexistent/x.csv --steps 1", 2, "/nonexistent/x.csv");
  expect("train /nonexistent/x.json", 2, "cannot read experiment file '/nonexistent/x.json'");
  expect("train --set model.bottleneck=x", 2,
         "ex-1.7 (built-in) with overrides: model.bottleneck: expected an integer in [2, 64], got \"x\"");
  expect("train --set batch", 2, "--set batch: expected key.path=value");
  expect("experiment", 2, "A subcommand is required");
  expect("experiment show", 2, "experiment is required");
  expect("experiment check ex-9", 2, "unknown experiment 'ex-9'");
  expect("train --resume /nonexistent/run", 1, "cannot resume: /nonexistent/run/resume.safetensors does not exist");
  expect("schedule", 2, "FILE.csv is required");
  expect("schedule /nonexistent/x.csv", 1, "/nonexistent/x.csv");
  expect("train --help", 0, "Usage: spheregrad train [OPTIONS]");
  expect("--version", 0, "spheregrad 0.2.0");
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
  expect("train --steps 5 --dopesheet " + sheet.string() + " --out " + (dir / "r").string(), 2, sheet.string() + ":3:2:");
  CHECK_FALSE(fs::exists(dir / "r"));  // nothing written

  // A finished run: a second run into the same folder is refused and leaves every byte as it was.
  const std::string out = (dir / "done").string();
  REQUIRE(run("train --steps 20 --snapshot-every 0 --quiet --out " + out).code == 0);
  const std::string before = sg::test::read_file(dir / "done" / "metrics.csv");
  expect("train --steps 30 --quiet --out " + out, 1, "already holds a finished run");
  CHECK(sg::test::read_file(dir / "done" / "metrics.csv") == before);
  expect("train --resume " + out, 1, "the run is already complete");
  expect("train --resume " + out + " --seed 3", 2, "--seed cannot be given");

  // A corrupted checkpoint of a run in progress is a clear error, never a crash.
  const std::string bytes = sg::test::read_file(dir / "done" / "checkpoint.safetensors");
  fs::remove(dir / "done" / "summary.json");
  std::ofstream(dir / "done" / "resume.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect("train --resume " + out, 1, "resume.safetensors");
  fs::remove_all(dir);
}

TEST_CASE("cli: experiment list, show and check; train an edited file; --set; the run folder repeats itself") {
  if (!fs::exists(cli())) {
    MESSAGE("no " << cli() << ": skipped");
    return;
  }
  const fs::path dir = sg::test::temp_dir("cli");
  const Outcome list = run("experiment list");
  CHECK(list.code == 0);
  CHECK(list.output.find("ex-1.7             selective regularization, full data from step 0") != std::string::npos);
  CHECK(std::count(list.output.begin(), list.output.end(), '\n') == 14);

  // show prints a file that trains as it is; an edit makes it a custom experiment.
  const Outcome shown = run("experiment show ex-1.7 --steps 200 --set model.bottleneck=5");
  REQUIRE(shown.code == 0);
  CHECK(shown.output.find("\"bottleneck\": 5") != std::string::npos);
  CHECK(shown.output.find("\"STEP,PHASE,ACTION,lr,reg-separate,reg-planar,reg-norm,reg-norm-v,reg-polar\"") !=
        std::string::npos);  // the dopesheet inline
  std::ofstream(dir / "mine.json") << shown.output;
  const Outcome checked = run("experiment check " + (dir / "mine.json").string());
  CHECK(checked.code == 0);
  CHECK(checked.output.find(": ok -- ex-1.7-") != std::string::npos);
  CHECK(checked.output.find("(custom), ColorMLP(5), 200 steps at batch 64, seed 0") != std::string::npos);
  std::ofstream(dir / "broken.json") << "{\"name\": \"x\", \"model\": {\"bottleneck\": 4, \"widht\": 3}}";
  expect("experiment check " + (dir / "broken.json").string(), 2,
         (dir / "broken.json").string() + ": model.widht: unknown key (known here: activation, bottleneck, depth, "
                                          "hidden, normalize, output)");

  // train FILE.json into a folder; the folder's experiment.json repeats it byte for byte.
  const std::string a = (dir / "a").string(), b = (dir / "b").string();
  REQUIRE(run("train " + (dir / "mine.json").string() + " --quiet --out " + a).code == 0);
  REQUIRE(run("train " + a + "/experiment.json --quiet --out " + b).code == 0);
  for (const char* f : {"metrics.csv", "checkpoint.safetensors", "latents.npy", "experiment.json"}) {
    CAPTURE(f);
    CHECK(sg::test::read_file(fs::path(a) / f) == sg::test::read_file(fs::path(b) / f));
  }
  // The shorthands are --set: the same run either way.
  const std::string c = (dir / "c").string();
  REQUIRE(run("train --set steps=200 --set model.bottleneck=5 --quiet --out " + c).code == 0);
  CHECK(sg::test::read_file(fs::path(a) / "metrics.csv") == sg::test::read_file(fs::path(c) / "metrics.csv"));
  fs::remove_all(dir);
}
