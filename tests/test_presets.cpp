// Tests of the experiments beyond the main job: the presets (data per phase, curriculum focus,
// embedded dopesheets, name validation), `spheregrad compare` with its gradient probes, and
// `spheregrad sweep` -- including the byte equality of merged shards, by GNU parallel when it
// is installed and by the Slurm array script run as Slurm would run it.
#include <doctest/doctest.h>

#include "tests/test_util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "examples/color/color.hpp"
#include "examples/experiment/sweep.hpp"
#include "examples/experiment/train.hpp"
#include "examples/report/figures.hpp"
#include "schedule/timeline.hpp"

using namespace sg;
namespace fs = std::filesystem;

namespace {

// A built-in experiment, `steps` long (< 0: its dopesheet's length), no snapshots.
train::Options quick(const std::string& preset, int steps, const fs::path& out = {}) {
  train::Options o;
  train::Overrides overrides{{"snapshot_every=0"}, {}};
  if (steps > 0) overrides.set.push_back("steps=" + std::to_string(steps));
  o.experiment = train::load_experiment(preset, overrides);
  o.quiet = true;
  o.write_outputs = !out.empty();
  o.out = out.string();
  o.overwrite = true;  // tests run twice into the same folder on purpose
  return o;
}

// The error of loading experiment `name` with the overrides `sets`.
std::string load_error(const std::string& name, const std::vector<std::string>& sets) {
  try {
    train::load_experiment(name, {sets, {}});
  } catch (const train::ExperimentError& e) {
    return e.what();
  }
  return "no error";
}

const char* const kCli = "build/spheregrad";

bool have_cli() { return fs::exists(kCli); }

}  // namespace

TEST_CASE("curriculum focus: levels and the primary/secondary focus") {
  CHECK(color::levels(0.3, 0.5) == doctest::Approx(0.3));  // f = 0.5 leaves w unchanged
  CHECK(color::levels(0.98, 0.0) == 0.0);                   // f = 0 keeps only w >= 0.99 ...
  CHECK(color::levels(1.0, 0.0) == doctest::Approx(1.0));   // ... as 1
  CHECK(color::levels(0.995, 0.0) == doctest::Approx(0.5));
  CHECK(color::levels(0.0, 1.0) == 1.0);  // f = 1 makes every cell 1
  CHECK(color::levels(0.0, 0.75) == doctest::Approx(0.5));  // out_low = 0.5
  CHECK(color::levels(0.5, 0.25) == doctest::Approx((0.5 - 0.495) / (1 - 0.495)));
  CHECK(color::primary_secondary_focus(0.0) == doctest::Approx(1.0));
  CHECK(color::primary_secondary_focus(300 / 360.0) == doctest::Approx(1.0));
  CHECK(color::primary_secondary_focus(30 / 360.0) == doctest::Approx(0.0).epsilon(1e-12));
  CHECK(color::primary_secondary_focus(10 / 360.0) == doctest::Approx(0.75));
  CHECK(color::primary_secondary_focus(350 / 360.0) == doctest::Approx(0.75));

  // Reweighting moves all mass to the cells that keep weight.
  color::Sampler sampler(std::vector<double>(5, 1.0));
  const double w[5] = {0, 0, 2, 0, 0};
  sampler.reweight(w, 5);
  Rng rng(1, Stream::Sampler);
  for (int i = 0; i < 50; ++i) CHECK(sampler.draw(rng) == 2);
  const double zeros[5] = {0, 0, 0, 0, 0};
  CHECK_THROWS_AS(sampler.reweight(zeros, 5), std::invalid_argument);
  CHECK_THROWS_AS(sampler.reweight(w, 4), std::invalid_argument);
}

TEST_CASE("the data sets of Ex 1.2 and Ex 1.3") {
  const train::Experiment ex12 = train::load_experiment("ex-1.2");
  REQUIRE(ex12.data.size() == 1);
  CHECK(ex12.data[0].set.size() == 538);  // (360 - 91) hues x 2 values
  CHECK(ex12.data[0].sampling == train::Sampling::FullBatch);
  for (int i = 0; i < ex12.data[0].set.size(); ++i) {
    const auto hsv = color::rgb_to_hsv({ex12.data[0].set.rgb(i, 0), ex12.data[0].set.rgb(i, 1), ex12.data[0].set.rgb(i, 2)});
    const int deg = int(std::lround(hsv.h * 360)) % 360;
    CHECK_FALSE(ex12.heldout->contains(deg));
  }
  const train::Experiment ex13 = train::load_experiment("ex-1.3");
  std::map<std::string, int> sizes;
  for (const train::PhaseData& d : ex13.data) sizes[d.phase] = d.set.size();
  CHECK(sizes == std::map<std::string, int>{{"12 hues", 12}, {"Bright hues", 360}, {"Slightly darker", 720},
                                            {"Darker", 1080}, {"All brightness levels", 3600}});
}

TEST_CASE("Ex 1.7 with a curriculum keeps Ex 1.7's schedule in every shared column") {
  schedule::Timeline a(schedule::parse_dopesheet(train::load_experiment("ex-1.7").dopesheet));
  schedule::Timeline b(schedule::parse_dopesheet(train::load_experiment("ex-1.7-curriculum").dopesheet));
  REQUIRE(a.length() == b.length());
  int differences = 0;
  for (int s = 0; s < a.length(); ++s) {
    for (const auto& p : a.dopesheet().properties) differences += a.value(p.name) != b.value(p.name);
    if (s + 1 < a.length()) a.step(), b.step();
  }
  CHECK(differences == 0);
  CHECK(b.value("data-hues") == 1.0);
  CHECK(b.value("data-vibrancies") == 1.0);
}

TEST_CASE("presets: short runs cross their phase boundaries, byte-identical at 1 and 2 threads") {
  const fs::path dir = test::temp_dir("presets");
  // Ex 1.6 stepped into its focused "All hues" phase (the anchor fires at 500); Ex 1.3 into its
  // 360-hue full batch; Ex 1.2 whole.
  for (const auto& [preset, steps] : {std::pair{"ex-1.6-stepped", 620}, {"ex-1.3", 2050}, {"ex-1.2", 500}}) {
    CAPTURE(preset);
    train::Options one = quick(preset, steps, dir / "a"), two = quick(preset, steps, dir / "b");
    two.threads = 2;
    const train::Result r = train::run(one);
    train::run(two);
    CHECK(std::isfinite(r.final_total));
    const std::string csv = test::read_file(dir / "a" / "metrics.csv");
    CHECK(csv == test::read_file(dir / "b" / "metrics.csv"));
    CHECK(test::read_file(dir / "a" / "checkpoint.safetensors") == test::read_file(dir / "b" / "checkpoint.safetensors"));
  }
  // Ex 1.2's published outcome: an ordered wheel of the trained hues with a gap where teal-blue
  // was held out, and a final training MSE near 0.016 (seed 0).
  const train::Result ex12 = train::run(quick("ex-1.2", -1));
  CHECK(ex12.metrics.train_hue_inversions == 0);
  CHECK(std::abs(ex12.metrics.train_hue_winding) == 1);
  CHECK(ex12.metrics.train_gap_after_deg == 149);
  CHECK(ex12.metrics.train_gap_deg > 30);
  CHECK(ex12.final_recon < 0.03);
  fs::remove_all(dir);
}

TEST_CASE("presets: names are checked -- data settings, phases, unknown presets") {
  const fs::path dir = test::temp_dir("presets");
  const std::string sheet = (dir / "sheet.csv").string(), set = "dopesheet=" + sheet;
  // A curriculum setting the experiment does not use is an unknown column ...
  std::ofstream(sheet) << "STEP,PHASE,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-hues,"
                          "data-vibrancies,data-fraction\n0,All hues,0.01,1,0,0,0.1,0,1,1,1\n";
  CHECK(load_error("ex-1.6-smooth", {set}) ==
        "ex-1.6-smooth (built-in) with overrides: dopesheet: column 'data-fraction' weights nothing (no regularizer of "
        "that name, and not a setting: lr, loss-recon, data-hues, data-vibrancies)");
  // ... one it needs is missing ...
  std::ofstream(sheet) << "STEP,PHASE,lr,reg-separate,reg-planar,reg-norm,reg-anchor,data-hues\n"
                          "0,All hues,0.01,0,0,0.1,0,1\n";
  CHECK(load_error("ex-1.6-smooth", {set}) ==
        "ex-1.6-smooth (built-in) with overrides: focus: needs the column 'data-vibrancies' in the dopesheet");
  // ... and Ex 1.7 knows no curriculum setting at all.
  std::ofstream(sheet) << "STEP,lr,reg-separate,reg-planar,reg-norm,reg-norm-v,reg-polar,data-fraction\n"
                          "0,0.01,0.001,0.02,0.01,0.02,0.006,1\n";
  CHECK(load_error("ex-1.7", {set}) ==
        "ex-1.7 (built-in) with overrides: dopesheet: column 'data-fraction' weights nothing (no regularizer of that "
        "name, and not a setting: lr, loss-recon)");
  // A phase the experiment has no data for.
  std::ofstream(sheet) << "STEP,PHASE,lr,reg-norm,reg-planar\n0,12 hues,0.01,0.1,0.1\n10,Twelve hues,0.01,,\n";
  CHECK(load_error("ex-1.3", {set}) ==
        "ex-1.3 (built-in) with overrides: data: the dopesheet's phase 'Twelve hues' has no data (add \"Twelve hues\" or \"*\")");
  CHECK(load_error("ex-1.4", {}).starts_with("unknown experiment 'ex-1.4' (built-in: ex-1.2, ex-1.3, "));
  fs::remove_all(dir);
}

TEST_CASE("gradient probes: unitarity is radial, angular repulsion tangential, Euclidean both") {
  std::map<std::string, train::GradientProbe> seen;
  for (const char* preset : {"ex-1.5", "ex-1.5-angular"}) {
    train::Options o = quick(preset, 61);
    o.probe_every = 20;  // steps 0, 20, 40, 60 (reg-separate is 0 at step 0: not computed)
    const train::Result r = train::run(o);
    for (const train::GradientProbe& p : r.probes)
      if (p.step == 60) seen[std::string(preset) + " " + p.term] = p;
    int at_zero = 0;
    for (const train::GradientProbe& p : r.probes) at_zero += p.step == 0 && p.term == "reg-separate";
    CHECK(at_zero == 0);
  }
  REQUIRE(seen.count("ex-1.5 reg-norm"));
  REQUIRE(seen.count("ex-1.5 reg-separate"));
  REQUIRE(seen.count("ex-1.5-angular reg-separate"));
  CHECK(seen["ex-1.5 reg-norm"].radial_cosine > 0.999);
  CHECK(seen["ex-1.5-angular reg-separate"].radial_cosine < 1e-4);
  const train::GradientProbe& euclidean = seen["ex-1.5 reg-separate"];
  CHECK(euclidean.radial_cosine > 0.05);
  CHECK(euclidean.radial_cosine < 0.999);
  CHECK(euclidean.radial < 0);  // descent pushes the six points outward
  CHECK(euclidean.tangential_abs > 0);
}

TEST_CASE("gradient probes: a selective term is averaged over the rows it acts on") {
  train::Options o = quick("ex-1.7", 201);
  o.probe_every = 5;
  const train::Result r = train::run(o);
  std::map<std::string, int> probes;
  for (const train::GradientProbe& p : r.probes) {
    ++probes[p.term];
    if (p.term == "reg-norm" || p.term == "recon") CHECK(p.rows == 64);  // every sample
    if (p.term != "reg-polar" && p.term != "reg-planar") continue;
    CHECK(p.rows > 0);  // a selective term with no selected sample is not computed, so not probed
    CHECK(p.rows < 32);  // the red (vibrant) samples of a batch of 64: a few
    CHECK(p.radial_abs + p.tangential_abs > 0);
  }
  CHECK(probes["reg-polar"] > 0);
  CHECK(probes["reg-planar"] > 0);
}

TEST_CASE("sweep: run lists, seeds, shards") {
  sweep::Plan plan;
  plan.experiments = {"ex-1.7"};
  plan.seeds = {0};
  plan.ablations = {"subsets"};
  const std::vector<sweep::RunSpec> subsets = sweep::expand(plan);
  REQUIRE(subsets.size() == 31);
  CHECK(subsets[0].without.empty());                 // the full set first
  CHECK(subsets[30].without.size() == 4);            // one regularizer kept last
  CHECK(sweep::run_name(subsets[1]) == "ex-1.7-without-reg-polar-seed0");
  plan.ablations = {"", "reg-norm+reg-polar"};
  plan.experiments = {"ex-1.7", "ex-1.2"};
  CHECK_THROWS_WITH_AS(sweep::expand(plan), "ablation 'reg-norm+reg-polar': experiment ex-1.2 has no regularizer 'reg-norm'",
                       std::invalid_argument);
  plan.experiments = {"ex-1.7"};
  const std::vector<sweep::RunSpec> two = sweep::expand(plan);
  CHECK(two[1].without == std::vector<std::string>{"reg-polar", "reg-norm"});  // the experiment's order
  // The plan's overrides reach every run, and a changed experiment names its folders by its label.
  plan.overrides = {{"steps=40"}, {}};
  const std::vector<sweep::RunSpec> short_runs = sweep::expand(plan);
  const train::Experiment e = sweep::experiment_of(short_runs[1], plan);
  CHECK(e.steps == 40);
  CHECK_FALSE(e.regularizer("reg-polar")->enabled);
  CHECK(short_runs[1].sweep.size() == 8);
  CHECK(short_runs[1].sweep != two[1].sweep);  // another plan, another sweep
  CHECK(sweep::run_name(short_runs[1]) == train::load_experiment("ex-1.7", plan.overrides).label() +
                                               "-without-reg-polar+reg-norm-seed0");
  CHECK(sweep::parse_seeds("0-2,7,10-11") == std::vector<unsigned long long>{0, 1, 2, 7, 10, 11});
  // The largest seed is a seed, not the start of a range that wraps to 0.
  CHECK(sweep::parse_seeds("18446744073709551614-18446744073709551615") ==
        std::vector<unsigned long long>{18446744073709551614ull, 18446744073709551615ull});
  CHECK_THROWS_AS(sweep::parse_seeds("3-1"), std::invalid_argument);
  CHECK_THROWS_AS(sweep::parse_seeds("1,1"), std::invalid_argument);
  CHECK_THROWS_AS(sweep::parse_seeds("x"), std::invalid_argument);
  CHECK(sweep::parse_shard("2/3") == std::pair{2, 3});
  CHECK_THROWS_AS(sweep::parse_shard("0/3"), std::invalid_argument);
  CHECK_THROWS_AS(sweep::parse_shard("4/3"), std::invalid_argument);
  int covered = 0;
  for (int i = 0; i < 10; ++i)
    for (int k = 1; k <= 3; ++k) covered += sweep::in_shard(i, {k, 3});
  CHECK(covered == 10);  // every run in exactly one shard
  const auto [lo, hi] = sweep::wilson(25, 100);
  CHECK(lo == doctest::Approx(0.1755).epsilon(1e-3));
  CHECK(hi == doctest::Approx(0.3438).epsilon(1e-3));
}

TEST_CASE("sweep merge: the shards' tables, in any order, make the whole table; gaps and repeats are errors") {
  const std::string h = sweep::csv_header();
  const std::string a = h + "0,1234abcd,ex-1.7,0,,ok\n2,1234abcd,ex-1.7,2,,ok\n", b = h + "1,1234abcd,ex-1.7,1,,ok\n";
  CHECK(sweep::merge_rows({{"b", b}, {"a", a}}) ==
        h + "0,1234abcd,ex-1.7,0,,ok\n1,1234abcd,ex-1.7,1,,ok\n2,1234abcd,ex-1.7,2,,ok\n");
  // A shard of another sweep (other steps, seeds or experiments) is named, not merged.
  CHECK_THROWS_WITH(sweep::merge_rows({{"a", a}, {"c", h + "1,99990000,ex-1.7-5eed5eed,1,,ok\n"}}),
                    "c:2: run 1 is from sweep 99990000, a from sweep 1234abcd (shards of different sweeps: other "
                    "experiments, seeds or ablations)");
  CHECK_THROWS_WITH(sweep::merge_rows({{"a", a}}), "1 run(s) missing (1): a shard was not run or not given");
  CHECK_THROWS_WITH(sweep::merge_rows({{"a", a}, {"b", b}}, 4), "1 run(s) missing (3): a shard was not run or not given");
  CHECK_THROWS_WITH(sweep::merge_rows({{"a", a}, {"a2", a}}), "a2:2: run 0 appears twice (overlapping shards?)");
  CHECK_THROWS_WITH(sweep::merge_rows({{"x", "run,preset\n"}}), "x: not a sweep table of this version (its header differs)");
}

TEST_CASE("spheregrad sweep end to end: jobs, shards, merge, GNU parallel, the Slurm array script") {
  if (!have_cli()) {
    MESSAGE("build/spheregrad is not built; skipped");
    return;
  }
  const fs::path dir = test::temp_dir("presets");
  const std::string sweep_args = "--presets ex-1.7,ex-1.6-stepped --seeds 0-2 --ablations 'none;reg-separate' --steps 40";
  auto sh = [](const std::string& command) { return std::system(("bash -c \"" + command + "\" >/dev/null 2>&1").c_str()); };
  REQUIRE(sh(std::string(kCli) + " sweep " + sweep_args + " --out " + (dir / "whole").string() + " --quiet") == 0);
  const std::string whole = test::read_file(dir / "whole" / "summary.csv");
  // A second sweep into the same folder is refused unless --overwrite; the table stays.
  CHECK(sh(std::string(kCli) + " sweep " + sweep_args + " --out " + (dir / "whole").string() + " --quiet") != 0);
  CHECK(test::read_file(dir / "whole" / "summary.csv") == whole);
  {  // the report beside the table: every row, each linking to its run's own report
    const nlohmann::json page = figures::report_data((dir / "whole" / "report.html").string());
    CHECK(page["kind"] == "sweep");
    REQUIRE(page["rows"].size() == std::count(whole.begin(), whole.end(), '\n') - 1);
    const std::string link = page["rows"][0].value("report", "");
    CHECK_MESSAGE(fs::exists(dir / "whole" / link), link);
  }
  CHECK(std::count(whole.begin(), whole.end(), '\n') == 13);  // header + 2 presets x 2 ablations x 3 seeds
  CHECK(whole.find(",error,") == std::string::npos);
  const std::string ex17 = train::load_experiment("ex-1.7", {{"steps=40"}, {}}).label();  // a custom label
  CHECK(ex17 != "ex-1.7");
  CHECK(fs::exists(dir / "whole" / "runs" / (ex17 + "-without-reg-separate-seed2") / "summary.json"));

  // In parallel (child processes) and as three shards, merged: the same bytes.
  REQUIRE(sh(std::string(kCli) + " sweep " + sweep_args + " --jobs 3 --folders none --out " + (dir / "jobs").string() +
             " --quiet") == 0);
  CHECK(test::read_file(dir / "jobs" / "summary.csv") == whole);
  for (int k = 1; k <= 3; ++k)
    REQUIRE(sh(std::string(kCli) + " sweep " + sweep_args + " --folders none --shard " + std::to_string(k) +
               "/3 --out " + (dir / "shards").string() + " --quiet") == 0);
  const std::string shards = (dir / "shards").string();
  REQUIRE(sh(std::string(kCli) + " sweep merge " + shards + "/merged.csv " + shards + "/summary-shard-3-of-3.csv " +
             shards + "/summary-shard-1-of-3.csv " + shards + "/summary-shard-2-of-3.csv --expect 12") == 0);
  CHECK(test::read_file(dir / "shards" / "merged.csv") == whole);
  // A missing shard is an error, and writes nothing.
  CHECK(sh(std::string(kCli) + " sweep merge " + shards + "/partial.csv " + shards + "/summary-shard-1-of-3.csv") != 0);
  CHECK_FALSE(fs::exists(dir / "shards" / "partial.csv"));

  // The Slurm array script, run the way Slurm runs an array of 4 tasks numbered 0-3.
  for (int id = 0; id < 4; ++id)
    REQUIRE(sh("SLURM_ARRAY_TASK_ID=" + std::to_string(id) + " SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=4 "
               "SWEEP_ARGS=\\\"" + "--presets ex-1.7,ex-1.6-stepped --seeds 0-2 --ablations none;reg-separate "
               "--steps 40 --folders none\\\" SWEEP_OUT=" + (dir / "slurm").string() + " examples/experiment/slurm-sweep.sh") == 0);
  const std::string slurm = (dir / "slurm").string();
  REQUIRE(sh(std::string(kCli) + " sweep merge " + slurm + "/merged.csv " + slurm + "/summary-shard-*-of-4.csv") == 0);
  CHECK(test::read_file(dir / "slurm" / "merged.csv") == whole);

  // GNU parallel, as docs/sweeps.md shows it (it also runs on remote hosts with --sshloginfile).
  if (sh("command -v parallel") != 0) {
    MESSAGE("GNU parallel is not installed (Debian: apt-get install parallel); its command was not tested");
  } else {
    const std::string par = (dir / "parallel").string();
    REQUIRE(sh("parallel --will-cite -q --jobs 2 " + std::string(kCli) + " sweep " + sweep_args +
               " --folders none --quiet --shard {}/4 --out " + par + " ::: 1 2 3 4") == 0);
    REQUIRE(sh(std::string(kCli) + " sweep merge " + par + "/merged.csv " + par + "/summary-shard-*-of-4.csv") == 0);
    CHECK(test::read_file(dir / "parallel" / "merged.csv") == whole);
  }
  fs::remove_all(dir);
}

TEST_CASE("spheregrad compare: aligned curves, phase starts, the comparison tables") {
  if (!have_cli()) {
    MESSAGE("build/spheregrad is not built; skipped");
    return;
  }
  const fs::path dir = test::temp_dir("presets");
  const std::string command = std::string(kCli) + " compare ex-1.6-smooth ex-1.6-stepped --steps 700 " +
                              "--probe-every 100 --quiet --out " + dir.string();
  REQUIRE(std::system((command + " >/dev/null 2>&1").c_str()) == 0);
  const std::string smooth = train::load_experiment("ex-1.6-smooth", {{"steps=700"}, {}}).label(),
                    stepped = train::load_experiment("ex-1.6-stepped", {{"steps=700"}, {}}).label();
  const std::string md = test::read_file(dir / "comparison.md");
  for (const std::string& part : {std::string("### Final metrics"), std::string("### Loss at phase starts"),
                                  "| " + stepped + " | 500 |", "| " + smooth + " | 500 |",
                                  std::string("### Logged loss magnitudes"), std::string("### Gradient of each weighted term")})
    CHECK_MESSAGE(md.find(part) != std::string::npos, part);
  CHECK(test::read_file(dir / "total.svg").find("stroke-dasharray") != std::string::npos);  // phase starts marked
  // The page: self-contained, with each run's own latents and curves (tests/browser_test.sh renders it).
  CHECK(test::read_file(dir / "comparison.html").find("<script src") == std::string::npos);
  const nlohmann::json page = figures::report_data((dir / "comparison.html").string());
  CHECK(page["kind"] == "comparison");
  REQUIRE(page["runs"].size() == 2);
  CHECK(page["runs"][1]["name"] == stepped);
  CHECK(page["runs"][1]["data"]["snapshots"].size() == 4);  // steps 0, 250, 500 and the last, 700
  CHECK(page["tables"].get<std::string>().find("Loss at phase starts") != std::string::npos);
  CHECK(fs::exists(dir / "gradients.csv"));
  CHECK(fs::exists(dir / "runs" / stepped / "report.html"));

  // Finished run folders compare as they are: the two runs above, read back, against each other.
  const std::string again = std::string(kCli) + " compare " + (dir / "runs" / smooth).string() + " " +
                            (dir / "runs" / stepped).string() + " --quiet --out " + (dir / "folders").string();
  REQUIRE(std::system((again + " >/dev/null 2>&1").c_str()) == 0);
  const std::string md2 = test::read_file(dir / "folders" / "comparison.md");
  CHECK(md2.find("| " + stepped + " | 500 |") != std::string::npos);
  const auto finals = [](const std::string& m) { return m.substr(m.find("### Final metrics"), m.find("### Loss at") - m.find("### Final metrics")); };
  CHECK(finals(md2) == finals(md));  // the same final metrics, read from summary.json
  CHECK_FALSE(fs::exists(dir / "folders" / "runs"));  // nothing was trained
  CHECK(std::system((again + " >/dev/null 2>&1").c_str()) != 0);  // an earlier comparison stays ...
  CHECK(std::system((again + " --overwrite >/dev/null 2>&1").c_str()) == 0);  // ... unless replaced
  fs::remove_all(dir);
}
