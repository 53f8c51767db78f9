// Tests of the main job: determinism across thread counts, name validation, the outputs, and
// the published outcome of Ex 1.7 at seed 0.
#include <doctest/doctest.h>

#include "tests/test_util.hpp"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "examples/experiment/train.hpp"
#include "schedule/timeline.hpp"

using namespace sg;
namespace fs = std::filesystem;

namespace {

// Ex 1.7, short; `sets` are more overrides.
train::Options short_run(const fs::path& out, int threads, int steps, int batch, std::vector<std::string> sets = {}) {
  sets.insert(sets.begin(), {"steps=" + std::to_string(steps), "batch=" + std::to_string(batch), "snapshot_every=50"});
  train::Options o;
  o.experiment = train::load_experiment("ex-1.7", {sets, {}});
  o.threads = threads;
  o.quiet = true;
  o.out = out.string();
  o.overwrite = true;  // tests run twice into the same folder on purpose
  return o;
}

std::string run_error(const train::Options& o) {
  try {
    train::run(o);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("train: a short run is byte-identical at 1 and 2 threads (metrics and checkpoint)") {
  const fs::path dir = test::temp_dir("test");
  // Batch 64 (the serial kernels) and batch 512 (large enough for the parallel ones).
  for (int batch : {64, 512}) {
    CAPTURE(batch);
    train::run(short_run(dir / "t1", 1, 120, batch));
    train::run(short_run(dir / "t2", 2, 120, batch));
    const std::string csv1 = test::read_file(dir / "t1" / "metrics.csv"), csv2 = test::read_file(dir / "t2" / "metrics.csv");
    CHECK(csv1.size() > 1000);
    CHECK(csv1 == csv2);
    CHECK(test::read_file(dir / "t1" / "checkpoint.safetensors") == test::read_file(dir / "t2" / "checkpoint.safetensors"));
    CHECK(test::read_file(dir / "t1" / "latents.npy") == test::read_file(dir / "t2" / "latents.npy"));
  }
  // A different seed gives a different run.
  train::run(short_run(dir / "t3", 1, 120, 512, {"seed=1"}));
  CHECK(test::read_file(dir / "t3" / "metrics.csv") != test::read_file(dir / "t1" / "metrics.csv"));
  fs::remove_all(dir);
}

TEST_CASE("train: the outputs exist, the report is self-contained") {
  const fs::path dir = test::temp_dir("test");
  train::run(short_run(dir / "run", 1, 60, 64));
  for (const char* name : {"experiment.json", "metrics.csv", "summary.json", "latents.npy", "latent_steps.npy", "checkpoint.safetensors",
                           "latents_dim1_dim0.svg", "latents_dim1_dim2.svg", "latents_dim1_dim3.svg", "losses.svg",
                           "schedule.svg", "report.html"})
    CHECK_MESSAGE(fs::exists(dir / "run" / name), name);
  const std::string html = test::read_file(dir / "run" / "report.html");
  // Nothing loaded from elsewhere: every script and style inline (the charting library's license
  // comment names its web page; nothing fetches it). tests/browser_test.sh renders the page.
  for (const char* external : {"<script src", "<link", "<img", "@import", "url(http", "<iframe"}) {
    CAPTURE(external);
    CHECK(html.find(external) == std::string::npos);
  }
  CHECK(html.find("Dygraph") != std::string::npos);
  CHECK(html.find("\"snapshots\"") != std::string::npos);
  // 60 steps, a snapshot every 50: steps 0 and 50, and the final one at 60.
  const std::string npy = test::read_file(dir / "run" / "latents.npy");
  CHECK(npy.find("'descr': '<f4'") != std::string::npos);
  CHECK(npy.find("'shape': (3, 512, 4)") != std::string::npos);
  // The steps are integers: int64, (3,), 0 50 60 after the 128-byte header.
  const std::string steps = test::read_file(dir / "run" / "latent_steps.npy");
  CHECK(steps.find("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }") != std::string::npos);
  REQUIRE(steps.size() == 128 + 3 * 8);
  std::int64_t values[3];
  std::memcpy(values, steps.data() + 128, sizeof values);
  CHECK(values[0] == 0);
  CHECK(values[1] == 50);
  CHECK(values[2] == 60);
  const std::string csv = test::read_file(dir / "run" / "metrics.csv");
  CHECK(csv.substr(0, csv.find('\n')) ==
        "step,phase,lr,reg-separate,reg-planar,reg-norm,reg-norm-v,reg-polar,recon,reg-polar:raw,reg-polar:weighted,"
        "reg-separate:raw,reg-separate:weighted,reg-planar:raw,reg-planar:weighted,reg-norm-v:raw,"
        "reg-norm-v:weighted,reg-norm:raw,reg-norm:weighted,total,n_red,n_vibrant,n_desaturated");
  // Every number is the text printf's "%.9g" writes (the rows are formatted with std::to_chars):
  // read back and printed again with printf, each field comes out the same.
  std::istringstream rows(csv.substr(csv.find('\n') + 1));
  int fields = 0;
  for (std::string row; std::getline(rows, row);) {
    std::istringstream cells(row);
    std::string cell;
    for (int column = 0; std::getline(cells, cell, ','); ++column) {
      if (column == 1 || cell.empty()) continue;  // the phase's name; a term not computed
      char printed[64];
      std::snprintf(printed, sizeof printed, "%.9g", std::strtod(cell.c_str(), nullptr));
      CHECK(cell == printed);
      ++fields;
    }
  }
  CHECK(fields > 1000);  // 61 rows of 22 fields, less the terms not computed
  fs::remove_all(dir);
}

TEST_CASE("train: Ex 1.7 at seed 0 reaches the published outcome") {
  train::Options o;
  o.experiment = train::load_experiment("ex-1.7");
  o.quiet = true;
  o.write_outputs = false;
  const train::Result r = train::run(o);
  const color::FinalMetrics& m = r.metrics;
  CHECK(r.steps == 10001);
  CHECK(m.recon_mse_validation < 1e-3);        // published: about 4e-4
  CHECK(m.separate_final == doctest::Approx(2.7).epsilon(0.1));  // published: about 2.7
  CHECK(m.red_cosine > 0.95);                  // red on +dim 0
  CHECK(std::abs(m.red_angle_deg) < 10);
  CHECK(m.radius_mean == doctest::Approx(1.0).epsilon(0.05));
  CHECK(m.hue_inversions == 0);
  CHECK(std::abs(m.hue_winding) == 1);
  CHECK_FALSE(m.crumpled);
  // Its sizes on the three rings: no fold, neighbouring hues (1 deg apart) a few degrees apart
  // at most, the primaries within 30 deg of even on every ring.
  CHECK(m.fold_deg == 0);
  CHECK_FALSE(m.visible_fold());
  CHECK(m.gap_deg > 1);
  CHECK(m.gap_deg < 5);
  CHECK(m.spacing_error_deg < 30);
}

TEST_CASE("train: a non-finite loss stops the run, naming the term and the step") {
  const fs::path dir = test::temp_dir("test");
  const std::string sheet = (dir / "explode.csv").string();
  // An absurd learning rate: the first Adam steps move every weight by about 1e30.
  std::ofstream(sheet) << "STEP,lr,reg-separate,reg-planar,reg-norm,reg-norm-v,reg-polar\n"
                          "0,1e30,0.001,0.02,0.01,0.02,0.006\n199,1e30,,,,,\n";
  train::Options o = short_run(dir / "run", 1, 200, 64, {"dopesheet=" + sheet});
  const std::string error = run_error(o);
  CHECK(error.find("non-finite") != std::string::npos);
  CHECK(error.find(" at step ") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "run" / "metrics.csv"));  // no half-written result under the final name
  CHECK_FALSE(fs::exists(dir / "run" / "metrics.csv.tmp"));
  fs::remove_all(dir);
}

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace {

// train::run(o) in a child process, which raises SIGKILL right after writing `kill_after`
// (empty: it runs to its end); returns the child's pid.
pid_t run_in_child(const train::Options& o, const std::string& kill_after = "") {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (!kill_after.empty()) setenv("SPHEREGRAD_KILL_AFTER", kill_after.c_str(), 1);
    try {
      train::run(o);
    } catch (...) {
      _exit(3);
    }
    _exit(0);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("train: a run killed with SIGKILL and resumed ends bit-identical to an uninterrupted one") {
  const fs::path dir = test::temp_dir("test");
  train::Options o = short_run(dir / "whole", 1, 3000, 64, {"snapshot_every=250"});
  o.checkpoint_every = 400;
  train::run(o);

  // The same run in a child process, killed at some step after its first checkpoint. Each
  // attempt waits a little less, until a kill lands before the run has finished.
  bool killed_mid_run = false;
  fs::path killed;
  for (int attempt = 0; attempt < 6 && !killed_mid_run; ++attempt) {
    killed = dir / ("killed" + std::to_string(attempt));
    train::Options c = o;
    c.out = killed.string();
    const pid_t pid = run_in_child(c);
    while (!fs::exists(killed / "resume.safetensors")) std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::this_thread::sleep_for(std::chrono::milliseconds(40 >> attempt));
    kill(pid, SIGKILL);
    const int status = wait_for(pid);
    killed_mid_run = WIFSIGNALED(status) && !fs::exists(killed / "summary.json");
  }
  REQUIRE(killed_mid_run);

  train::Options r = train::resume_options(killed.string());
  r.quiet = true;
  CHECK(r.experiment.steps == 3000);
  CHECK(r.experiment.resolved == o.experiment.resolved);
  CHECK(r.checkpoint_every == 400);
  train::run(r);
  for (const char* f : {"metrics.csv", "checkpoint.safetensors", "latents.npy", "latent_steps.npy", "losses.svg"}) {
    CAPTURE(f);
    CHECK(test::read_file(dir / "whole" / f) == test::read_file(killed / f));
  }
  // A finished run is neither resumed nor silently overwritten.
  CHECK_THROWS_WITH_AS(train::resume_options((dir / "whole").string()), doctest::Contains("already complete"),
                       std::runtime_error);
  CHECK_FALSE(fs::exists(killed / "resume.safetensors"));  // finished: what resuming needed is gone
  CHECK_FALSE(fs::exists(killed / "metrics.csv.tmp"));
  o.overwrite = false;
  CHECK(run_error(o).find("already holds a finished run") != std::string::npos);
  fs::remove_all(dir);
}

#include "nn/checkpoint.hpp"

namespace {

// `st` with tensor `name` replaced by `tensor`.
SafeTensors with_tensor(const SafeTensors& st, const std::string& name, const RawTensor& tensor) {
  SafeTensors out;
  out.metadata = st.metadata;
  for (const std::string& n : st.names()) out.put(n, n == name ? tensor : st.at(n));
  return out;
}

template <class T>
RawTensor raw(const std::string& dtype, const std::vector<std::int64_t>& shape, const std::vector<T>& values) {
  RawTensor t{dtype, shape, std::vector<std::uint8_t>(values.size() * sizeof(T))};
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

}  // namespace

TEST_CASE("train: a checkpoint is verified before a run resumes from it") {
  const fs::path dir = test::temp_dir("test");
  // A run killed in its final write, holding its last mid-run checkpoint (step 200 of 300) and
  // the metrics rows written so far.
  train::Options o = short_run(dir / "run", 1, 300, 64);
  o.checkpoint_every = 200;
  REQUIRE(WIFSIGNALED(wait_for(run_in_child(o, "metrics.csv"))));
  const std::string metrics = test::read_file(dir / "run" / "metrics.csv.tmp");
  const SafeTensors checkpoint = SafeTensors::load((dir / "run" / "resume.safetensors").string());
  REQUIRE(checkpoint.metadata.at("step") == "200");
  std::size_t end_of_199 = 0;
  for (int rows = 0; rows < 201; ++rows) end_of_199 = metrics.find('\n', end_of_199) + 1;  // header + 200 rows
  REQUIRE(checkpoint.metadata.at("metrics_bytes") == std::to_string(end_of_199));
  // Resume from `st` (sealed again unless told otherwise), as the folder was after the kill.
  auto resume_from = [&](SafeTensors st, bool reseal = true) {
    fs::remove(dir / "run" / "summary.json");
    std::ofstream(dir / "run" / "metrics.csv.tmp", std::ios::binary) << metrics;
    if (reseal) seal(st);
    st.save((dir / "run" / "resume.safetensors").string());
    train::Options r = train::resume_options((dir / "run").string());
    r.quiet = true;
    return run_error(r);
  };
  auto with_metadata = [&](const std::map<std::string, std::string>& changes) {
    SafeTensors st = checkpoint;
    for (const auto& [key, value] : changes) st.metadata[key] = value;
    return st;
  };
  CHECK(resume_from(checkpoint) == "no error");  // the control: the checkpoint as written resumes
  // A changed byte anywhere -- here one metadata value -- breaks the checksum.
  std::string error;
  try {
    resume_from(with_metadata({{"seed", "9"}}), false);
  } catch (const std::exception& e) {
    error = e.what();
  }
  CHECK(error.find("checksum mismatch") != std::string::npos);
  // Sealed but inconsistent: a step outside the run, a metrics length that is not a row's end
  // or longer than the file, a count that is no number.
  CHECK(resume_from(with_metadata({{"step", "7000"}})).find("step 7000 is not inside the run (1 .. 299)") !=
        std::string::npos);
  CHECK(resume_from(with_metadata({{"step", "-1"}})).find("step is not a count: '-1'") != std::string::npos);
  CHECK(resume_from(with_metadata({{"metrics_bytes", std::to_string(end_of_199 - 3)}})).find("not at a row's end") !=
        std::string::npos);
  CHECK(resume_from(with_metadata({{"metrics_bytes", "999999999"}})).find("does not hold the 999999999 bytes") !=
        std::string::npos);
  // Every restored tensor must be what this run holds at that step: the optimizer's step count,
  // a live random state, curves in this run's windows (a window of 0 once divided by zero), the
  // snapshots of exactly the steps taken.
  CHECK(resume_from(with_tensor(checkpoint, "optimizer.step", raw<std::int64_t>("I64", {1}, {-5})))
            .find("the optimizer has taken -5 steps, not the checkpoint's 200") != std::string::npos);
  CHECK(resume_from(with_tensor(checkpoint, "rng.labels", raw<std::uint64_t>("U64", {4}, {0, 0, 0, 0})))
            .find("rng.labels is all zero") != std::string::npos);
  std::vector<double> curve(4 + 200, 0.0);
  curve[3] = 200;  // window 0
  CHECK(resume_from(with_tensor(checkpoint, "run.curve.0", raw<double>("F64", {std::int64_t(curve.size())}, curve)))
            .find("run.curve.0: not the curve of 200 steps in windows of 1") != std::string::npos);
  const RawTensor& steps = checkpoint.at("run.snapshot_steps");
  CHECK(resume_from(with_tensor(checkpoint, "run.snapshot_steps", raw<float>("F32", {3}, {0, 50, 100})))
            .find("run.snapshot_steps") != std::string::npos);
  CHECK(steps.shape == std::vector<std::int64_t>{4});  // steps 0, 50, 100, 150 of the first 200
  CHECK(resume_from(with_tensor(checkpoint, "run.snapshot_steps", raw<float>("F32", {4}, {0, 50, 100, 151})))
            .find("run.snapshot_steps are not the steps this run snapshots") != std::string::npos);
  // What was run is stored whole: a dopesheet by file name is refused, never opened.
  train::Json stored = o.experiment.resolved;
  stored["dopesheet"] = "/etc/passwd";
  CHECK_THROWS_WITH_AS(resume_from(with_metadata({{"experiment.json", stored.dump()}})),
                       doctest::Contains("a stored experiment holds its dopesheet's lines, not a file name ('/etc/passwd')"),
                       train::ExperimentError);
  // A checkpoint resumes only the experiment that wrote it.
  std::ofstream(dir / "run" / "experiment.json") << train::to_text(train::load_experiment("ex-1.3").resolved);
  CHECK(resume_from(checkpoint).find("its experiment is not the one in") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("train: killed after any file of the final write, a run resumes to the same bytes; early kills re-run") {
  const fs::path dir = test::temp_dir("test");
  train::Options whole = short_run(dir / "whole", 1, 1200, 64, {"snapshot_every=250"});
  whole.checkpoint_every = 400;
  train::run(whole);
  const char* const files[] = {"metrics.csv", "checkpoint.safetensors", "latents.npy", "latent_steps.npy", "losses.svg",
                               "experiment.json"};
  for (const std::string point : {"metrics.csv", "latents.npy", "latent_steps.npy", "checkpoint.safetensors",
                                  "report.html", "summary.json"}) {
    CAPTURE(point);
    train::Options c = whole;
    c.out = (dir / point).string();
    c.overwrite = false;
    REQUIRE(WIFSIGNALED(wait_for(run_in_child(c, point))));
    // Finished only once summary.json exists, and then nothing is left to resume.
    CHECK(fs::exists(fs::path(c.out) / "summary.json") == (point == "summary.json"));
    if (point != "summary.json") {
      CHECK(run_error(c).find("already holds a run in progress") != std::string::npos);  // never replaced by accident
      train::Options r = train::resume_options(c.out);
      r.quiet = true;
      CHECK(run_error(r) == "no error");
    }
    for (const char* f : files) {
      CAPTURE(f);
      CHECK(test::read_file(dir / "whole" / f) == test::read_file(fs::path(c.out) / f));
    }
  }
  // Stopped before its first checkpoint (an experiment.json and some rows, nothing to resume):
  // the same command simply starts it again.
  const fs::path early = dir / "early";
  fs::create_directories(early);
  std::ofstream(early / "experiment.json") << "{}";
  std::ofstream(early / "metrics.csv.tmp") << "step,phase\n0,Train\n";
  train::Options again = whole;
  again.out = early.string();
  again.overwrite = false;
  CHECK(run_error(again) == "no error");
  CHECK(test::read_file(early / "metrics.csv") == test::read_file(dir / "whole" / "metrics.csv"));
  fs::remove_all(dir);
}

TEST_CASE("train: SIGTERM stops `spheregrad train` at a step boundary with a checkpoint; --resume finishes it") {
  const char* cli = std::getenv("SPHEREGRAD_CLI");
  const std::string program = cli ? cli : "build/spheregrad";
  if (!fs::exists(program)) {
    MESSAGE("no " << program << ": skipped");
    return;
  }
  const fs::path dir = test::temp_dir("test");
  const std::string whole = (dir / "whole").string();
  REQUIRE(std::system((program + " train --steps 20000 --quiet --out " + whole).c_str()) == 0);
  bool stopped = false;
  fs::path run;
  for (int attempt = 0; attempt < 6 && !stopped; ++attempt) {
    run = dir / ("stopped" + std::to_string(attempt));
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      execl(program.c_str(), program.c_str(), "train", "--steps", "20000", "--quiet", "--out", run.c_str(), (char*)nullptr);
      _exit(127);
    }
    while (!fs::exists(run / "metrics.csv.tmp") && !fs::exists(run / "summary.json"))
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::this_thread::sleep_for(std::chrono::milliseconds(100 >> attempt));
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    stopped = WIFEXITED(status) && WEXITSTATUS(status) == 1 && !fs::exists(run / "summary.json");
  }
  REQUIRE(stopped);
  CHECK(fs::exists(run / "resume.safetensors"));
  REQUIRE(std::system((program + " train --quiet --resume " + run.string()).c_str()) == 0);
  for (const char* f : {"metrics.csv", "checkpoint.safetensors", "latents.npy"}) {
    CAPTURE(f);
    CHECK(test::read_file(fs::path(whole) / f) == test::read_file(run / f));
  }
  fs::remove_all(dir);
}

TEST_CASE("train: memory is checked before a run allocates it, against a bound that holds") {
  const fs::path dir = test::temp_dir("test");
  // The bound on a step's tape holds from above, and not by orders of magnitude, across models,
  // batches and the pairwise terms whose tape grows with batch^2.
  struct Case {
    int batch;
    std::vector<std::string> sets;
  };
  const std::vector<Case> cases = {
      {64, {}},
      {4096, {}},
      {1024, {"model.hidden=256", "model.depth=3"}},
      {512, {"regularizers.reg-separate={\"term\": \"uniformity\", \"t\": 2}"}},
      {1024, {"regularizers.reg-separate={\"term\": \"euclidean-repulsion\", \"form\": \"original\"}"}},
      {1024, {"regularizers.reg-separate={\"term\": \"energy\", \"s\": 2}"}},  // O(B k): no B x B nodes
  };
  for (const Case& c : cases) {
    CAPTURE(c.batch);
    CAPTURE(c.sets.size() ? c.sets[0] : "");
    train::Options o = short_run(dir / "m", 1, 20, c.batch, c.sets);
    const train::Result r = train::run(o);
    INFO("tape " << r.tape_bytes << " bytes, bound " << r.tape_bytes_bound);
    CHECK(double(r.tape_bytes) <= r.tape_bytes_bound);
    CHECK(r.tape_bytes_bound <= 4.0 * double(r.tape_bytes));
  }
  // Too large for any machine: refused with what it needs, before anything is allocated.
  train::Options big = short_run(dir / "big", 1, 20, 65536,
                                 {"regularizers.reg-separate={\"term\": \"uniformity\", \"t\": 2}"});
  CHECK(run_error(big).find("this run needs about 384.3 GiB (a step at 65536 samples: 384.3 GiB") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "big"));
  train::Options snapshots = short_run(dir / "snapshots", 1, 100000000, 64, {"snapshot_every=1"});
  CHECK(run_error(snapshots).find("100000002 latent snapshots") != std::string::npos);
  fs::remove_all(dir);
}
