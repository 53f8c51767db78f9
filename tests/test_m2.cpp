// Tests of milestone 2 (docs/research.md, section 5): the interventions at the bottleneck (suppression,
// repulsion, ablation, pruning), the similarity score, the M2 presets, and `spheregrad
// intervene` end to end. Every case is named "m2 ...": run them with -tc='*m2*'.
#include <doctest/doctest.h>

#include "tests/test_util.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "examples/cli/cli.hpp"
#include "examples/color/intervene.hpp"
#include "examples/color/metrics.hpp"
#include "examples/experiment/train.hpp"
#include "examples/experiment/trained_model.hpp"
#include "examples/report/figures.hpp"
#include "losses/losses.hpp"
#include "nn/models.hpp"
#include "schedule/timeline.hpp"

using namespace sg;
namespace fs = std::filesystem;

namespace {

// n random unit rows in k dims from a seeded stream; row 1 is e1, exactly orthogonal to e0.
Matrix<float> unit_rows(int n, int k, unsigned long long seed) {
  Rng rng(seed, Stream::Init);
  Matrix<float> x(n, k);
  for (int i = 0; i < n; ++i) {
    double norm = 0;
    std::vector<double> row(k);
    for (double& e : row) e = rng.normal(), norm += e * e;
    for (int j = 0; j < k; ++j) x(i, j) = float(row[j] / std::sqrt(norm));
  }
  x.row(1).setZero();
  x(1, 1) = 1;  // x.e0 == 0 exactly: on the boundary, must stay untouched
  return x;
}

double dot(const Matrix<float>& x, long i, const std::vector<double>& v) {
  double d = 0;
  for (long j = 0; j < x.cols(); ++j) d += double(x(i, j)) * v[j];
  return d;
}

std::vector<double> random_unit(int k, unsigned long long seed) {
  Rng rng(seed, Stream::Init);
  std::vector<double> v(k);
  double norm = 0;
  for (double& e : v) e = rng.normal(), norm += e * e;
  for (double& e : v) e /= std::sqrt(norm);
  return v;
}

bool rows_identical(const Matrix<float>& a, const Matrix<float>& b, long i) {
  for (long j = 0; j < a.cols(); ++j)
    if (std::memcmp(&a(i, j), &b(i, j), sizeof(float)) != 0) return false;
  return true;
}

struct Ran {
  int code;
  std::string err;  // what it wrote to stderr
};

// Runs `spheregrad intervene` in this process with the given arguments.
Ran intervene_cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"spheregrad", "intervene"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::fflush(stderr);
  std::FILE* capture = std::tmpfile();
  REQUIRE(capture != nullptr);
  const int saved = dup(2);
  dup2(fileno(capture), 2);
  const int code = cli::run_program(int(argv.size()), argv.data());
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::string err;
  std::rewind(capture);
  for (int c; (c = std::fgetc(capture)) != EOF;) err += char(c);
  std::fclose(capture);
  return {code, err};
}

// The message of a run that fails while it runs (exit code 1).
std::string intervene_error(const std::vector<std::string>& args) {
  const Ran r = intervene_cli(args);
  CHECK(r.code == 1);
  return r.err;
}

}  // namespace

TEST_CASE("m2 suppression: p = 0 removes the positive component exactly; x.v <= 0 stays untouched") {
  const Matrix<float> x = unit_rows(200, 5, 1);
  for (const std::vector<double>& v : {loss::axis(5, 0), random_unit(5, 2)}) {
    const Matrix<float> out = intervene::suppress(x, v, {0, 1, 0});
    int touched = 0, kept = 0;
    for (long i = 0; i < x.rows(); ++i) {
      const double before = dot(x, i, v), after = dot(out, i, v);
      if (before > 0) {
        ++touched;
        CHECK(std::abs(after) < 1e-6);  // the component along v is gone ...
        for (long j = 0; j < x.cols(); ++j)  // ... and only that component changed
          CHECK(double(out(i, j)) == doctest::Approx(double(x(i, j)) - before * v[j]).epsilon(1e-6).scale(1));
      } else {
        ++kept;
        CHECK(rows_identical(x, out, i));
      }
    }
    CHECK(touched > 50);
    CHECK(kept > 50);
  }
  // With v = e0 the removal is exact in float: dim 0 becomes 0, the other dims keep their bits.
  const Matrix<float> out = intervene::suppress(x, loss::axis(5, 0), {0, 1, 0});
  for (long i = 0; i < x.rows(); ++i)
    if (x(i, 0) > 0) {
      CHECK(out(i, 0) == 0.0f);
      CHECK(out.row(i).tail(4) == x.row(i).tail(4));
    }
  // Bad directions are rejected, not silently normalized.
  CHECK_THROWS_AS(intervene::suppress(x, {1, 0, 0}, {}), std::invalid_argument);
  CHECK_THROWS_AS(intervene::suppress(x, {2, 0, 0, 0, 0}, {}), std::invalid_argument);
}

TEST_CASE("m2 suppression: the falloff is bounded, and so is what it removes") {
  for (const intervene::Falloff g : {intervene::Falloff{0, 1, 2}, intervene::Falloff{0.3, 0.5, 1},
                                     intervene::Falloff{0, 1, 0}, intervene::Falloff{0.5, 1, 7}}) {
    CAPTURE(g.a0);
    CAPTURE(g.p);
    double previous = 0;
    for (int i = -50; i <= 100; ++i) {
      const double a = i / 100.0, value = g(a);
      CHECK(value >= 0);
      CHECK(value <= g.b);
      if (a <= g.a0) CHECK(value == 0);
      CHECK(value >= previous);  // never decreasing: more aligned is never suppressed less
      previous = value;
    }
    CHECK(g(1.0) == doctest::Approx(g.b));
  }
  CHECK(intervene::Falloff{0, 1, 2}(0.5) == doctest::Approx(0.25));
  CHECK(intervene::Falloff{0.5, 0.8, 1}(0.75) == doctest::Approx(0.4));
  // What suppression leaves along v lies between 0 and the original component.
  const Matrix<float> x = unit_rows(300, 4, 3);
  const std::vector<double> v = random_unit(4, 4);
  for (const intervene::Falloff g : {intervene::Falloff{0, 1, 2}, intervene::Falloff{0.2, 0.6, 0.5}}) {
    const Matrix<float> out = intervene::suppress(x, v, g);
    for (long i = 0; i < x.rows(); ++i) {
      const double before = dot(x, i, v), after = dot(out, i, v);
      if (before > 0) {
        CHECK(after >= -1e-6);
        CHECK(after <= before + 1e-6);
        CHECK(after >= (1 - g.b) * before - 1e-6);
      }
    }
  }
  CHECK_THROWS_AS((intervene::Falloff{1, 1, 2}.check()), std::invalid_argument);
  CHECK_THROWS_AS((intervene::Falloff{0, 1.5, 2}.check()), std::invalid_argument);
  CHECK_THROWS_AS((intervene::Falloff{0, 1, -1}.check()), std::invalid_argument);
}

TEST_CASE("m2 repulsion: keeps the norm, touches only x.v > 0, turns to the alignment a (1 - g(a))") {
  Matrix<float> x = unit_rows(200, 5, 5);
  const std::vector<double> v = loss::axis(5, 0);
  x.row(2) << 1, 0, 0, 0, 0;   // parallel to v: its plane with v is undefined
  x.row(3) *= 2.5f;             // not unit: repulsion keeps its length
  for (const intervene::Falloff g : {intervene::Falloff{0, 1, 2}, intervene::Falloff{0, 1, 0}, intervene::Falloff{0.2, 0.7, 1}}) {
    const Matrix<float> out = intervene::repel(x, v, g);
    for (long i = 0; i < x.rows(); ++i) {
      const double norm = x.row(i).cast<double>().norm();
      CHECK(out.row(i).cast<double>().norm() == doctest::Approx(norm).epsilon(1e-6));
      const double a = dot(x, i, v) / norm;
      if (g(std::max(a, 0.0)) == 0) {
        CHECK(rows_identical(x, out, i));
        continue;
      }
      CHECK(dot(out, i, v) / norm == doctest::Approx(a * (1 - g(a))).epsilon(1e-6).scale(1));
      // The turn stays in the plane of x and v: no component leaves the span of the two.
      if (i != 2) {
        Eigen::VectorXd perp_before = x.row(i).cast<double>().transpose(), perp_after = out.row(i).cast<double>().transpose();
        perp_before(0) = 0;
        perp_after(0) = 0;
        CHECK(perp_before.normalized().dot(perp_after.normalized()) == doctest::Approx(1).epsilon(1e-6));
      }
    }
    // The parallel row turns toward the axis least aligned with v (dim 1), deterministically.
    CHECK(out(2, 1) > 0);
    CHECK(std::abs(out(2, 2)) + std::abs(out(2, 3)) + std::abs(out(2, 4)) == 0.0f);
  }
}

TEST_CASE("m2 ablation equals pruning; the ablated bottleneck is still unit, without the dim") {
  Tape<float> tape;
  Rng rng(7, Stream::Init);
  Autoencoder<float> model = make_model(tape, "CNColorMLP(5,2)", rng);
  REQUIRE(parameter_count(model.parameters()) == 840);
  const Matrix<float> rgb = color::rgb_cube(8).rgb;
  const Matrix<float> z_before = intervene::encode(model, tape, rgb);

  for (const std::vector<int>& dims : {std::vector<int>{0}, std::vector<int>{3, 1}}) {
    CAPTURE(dims.size());
    Tape<float> t2;
    Rng same(7, Stream::Init);
    Autoencoder<float> ablated = make_model(t2, "CNColorMLP(5,2)", same);
    Autoencoder<float> pruned = intervene::prune(t2, ablated, dims);
    intervene::ablate(ablated, dims);
    CHECK(pruned.name == "CNColorMLP(" + std::to_string(5 - dims.size()) + ",2)");
    CHECK(parameter_count(pruned.parameters()) == 840 - long(dims.size()) * (16 + 1 + 16));
    const intervene::Bottleneck b = intervene::find_bottleneck(ablated);
    for (int d : dims) {
      CHECK(b.producer->weight().value().row(d).isZero(0));
      CHECK(b.producer->bias().value()(0, d) == 0.0f);
      CHECK(b.consumer->weight().value().col(d).isZero(0));
    }
    const Matrix<float> out_ablated = intervene::reconstruct(ablated, t2, rgb);
    const Matrix<float> out_pruned = intervene::reconstruct(pruned, t2, rgb);
    CHECK((out_ablated - out_pruned).cwiseAbs().maxCoeff() <= 1e-5f);
    CHECK((out_ablated - intervene::reconstruct(model, tape, rgb)).cwiseAbs().maxCoeff() > 1e-3f);  // it did something
    // Ablation happens before the normalization: the other dims are renormalized among
    // themselves (unit rows, the dims exactly 0), as in the pruned model's narrower bottleneck.
    const Matrix<float> z = intervene::encode(ablated, t2, rgb), zp = intervene::encode(pruned, t2, rgb);
    for (long i = 0; i < z.rows(); ++i) {
      CHECK(z.row(i).norm() == doctest::Approx(1).epsilon(1e-5));
      for (int d : dims) CHECK(z(i, d) == 0.0f);
    }
    int kept = 0;
    for (int d = 0; d < 5; ++d)
      if (std::find(dims.begin(), dims.end(), d) == dims.end())
        CHECK((z.col(d) - zp.col(kept++)).cwiseAbs().maxCoeff() <= 1e-6f);
  }
  // The untouched model is unchanged (prune copies, never edits its source).
  CHECK(intervene::encode(model, tape, rgb) == z_before);

  CHECK_THROWS_WITH_AS(intervene::check_dims({5}, 5), doctest::Contains("out of range"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(intervene::check_dims({1, 1}, 5), doctest::Contains("twice"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(intervene::check_dims({0, 1, 2, 3, 4}, 5), doctest::Contains("nothing"), std::invalid_argument);
  Rng other(1, Stream::Init);
  Autoencoder<float> ex12 = make_model(tape, "Ex12", other);
  CHECK_THROWS_AS(intervene::prune(tape, ex12, {0}), std::invalid_argument);
}

TEST_CASE("m2 score: the HSV similarity and R^2 against hand-computed values") {
  const color::Hsv red{0, 1, 1};
  CHECK(intervene::hsv_similarity(red, red) == 1.0);
  CHECK(intervene::hsv_similarity(red, {0.5, 1, 1}) == 0.0);        // cyan: 180 degrees away
  CHECK(intervene::hsv_similarity(red, {0.25, 1, 1}) == 0.0);       // 90 degrees: the hemi edge
  CHECK(intervene::hsv_similarity(red, {30 / 360.0, 1, 1}) == doctest::Approx(2.0 / 3));  // orange
  CHECK(intervene::hsv_similarity(red, {350 / 360.0, 1, 1}) == doctest::Approx(8.0 / 9));  // cyclic
  CHECK(intervene::hsv_similarity(red, {0, 0, 0}) == 0.0);          // black
  CHECK(intervene::hsv_similarity(red, {0, 0.5, 1}) == doctest::Approx(0.5));  // r 0.75, eff 1
  // 60 degrees, s = v = 0.5: hue_sim 1/3, r = (0.25 + 1)/2, eff = r/3 + 1 - r; times 0.5 x 0.5.
  const double r = 0.625, eff = r / 3 + (1 - r);
  CHECK(intervene::hsv_similarity(red, {60 / 360.0, 0.5, 0.5}) == doctest::Approx(eff * 0.25));
  // Between grays hue does not count at all (r = 0): only value differences do.
  CHECK(intervene::hsv_similarity({0.3, 0, 0.5}, {0.8, 0, 0.75}) == doctest::Approx(0.75));

  // R^2 is the squared Pearson r of the least-squares line.
  const intervene::Fit f = intervene::linear_fit({1, 2, 3, 4}, {2, 4, 5, 4});
  CHECK(f.n == 4);
  CHECK(f.slope == doctest::Approx(0.7));
  CHECK(f.intercept == doctest::Approx(2.0));
  CHECK(f.r == doctest::Approx(3.5 / std::sqrt(5 * 4.75)));
  CHECK(f.r2 == doctest::Approx(12.25 / 23.75));
  CHECK(intervene::linear_fit({0, 1, 2}, {1, 4, 7}).r2 == doctest::Approx(1));
  CHECK(intervene::linear_fit({0, 1, 2}, {7, 4, 1}).r == doctest::Approx(-1));
  CHECK(std::isnan(intervene::linear_fit({1, 1, 1}, {1, 2, 3}).r2));  // no spread: no score

  // The concept's direction is the experiment's anchor axis; experiments without one name none.
  const intervene::Concept c = intervene::find_concept(train::load_experiment("ex-2.9.1"), "red", 5);
  CHECK(c.direction == loss::axis(5, 0));
  CHECK(intervene::find_concept(train::load_experiment("ex-1.7"), "red", 4).direction == loss::axis(4, 0));
  CHECK_THROWS_WITH_AS(intervene::find_concept(train::load_experiment("ex-2.4.1"), "blue", 4),
                       doctest::Contains("unknown concept 'blue'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(intervene::find_concept(train::load_experiment("ex-1.3"), "red", 3),
                       doctest::Contains("anchors no concept 'red'"), std::invalid_argument);
}

TEST_CASE("m2 experiments: data, labels, the shipped dopesheets and the schedule they realize") {
  for (const char* preset : {"ex-2.4.1", "ex-2.5.1", "ex-2.7.1", "ex-2.9.1", "ex-2.10.1"}) {
    CAPTURE(preset);
    const std::string file = std::string(preset) + ".csv";
    const train::Experiment p = train::load_experiment(preset);
    CHECK(p.batch == 64);
    REQUIRE(p.labels.size() == 2);  // the "redux" rates: 0.08 redness^8, 0.01 vibrancy^10 (2.7.1: 0.008 vibrancy^8)
    const bool hue_subspace = file == "ex-2.7.1.csv";
    CHECK(p.labels[0].name == "red");
    CHECK(p.labels[0].scale == 0.08);
    CHECK(p.labels[0].power == 8);
    CHECK(p.labels[1].name == "vibrant");
    CHECK(p.labels[1].scale == (hue_subspace ? 0.008 : 0.01));
    CHECK(p.labels[1].power == (hue_subspace ? 8 : 10));
    REQUIRE(p.data.size() == 1);
    CHECK(p.data[0].set.size() == 512);
    CHECK(test::read_file("examples/experiments/" + file) == p.dopesheet);
    schedule::Timeline t(schedule::parse_dopesheet(p.dopesheet));
    CHECK(t.length() == 1501);
    for (int s = 0; s < 1500; ++s) {
      if (s == 1425)
        for (const auto& prop : t.dopesheet().properties)
          if (prop.name != "lr") CHECK(t.value(prop.name) == 0.0);  // every regularizer off ...
      t.step();
    }
    CHECK(t.value("lr") == doctest::Approx(0.05));  // ... to the end, where lr has eased to 0.05
    for (const auto& prop : t.dopesheet().properties)
      if (prop.name != "lr") CHECK(t.value(prop.name) == 0.0);
  }
  schedule::Timeline a(schedule::parse_dopesheet(train::load_experiment("ex-2.4.1").dopesheet));
  for (int s = 0; s < 375; ++s) a.step();
  CHECK(a.value("subspace") == doctest::Approx(0.1));  // "+0.5" of 0 .. 750
  CHECK(a.value("separate") == 0.01);                  // its first value, held from step 0
  schedule::Timeline b(schedule::parse_dopesheet(train::load_experiment("ex-2.9.1").dopesheet));
  for (int s = 0; s < 248; ++s) b.step();
  CHECK(b.value("anti-anchor") == doctest::Approx(0.05));  // "+0.33" of 0 .. 750, half to even
  CHECK(train::load_experiment("ex-2.9.1").model.name() == "CNColorMLP(5,2)");
  CHECK(train::load_experiment("ex-2.4.1").model.name() == "CNColorMLP(4,1)");
  CHECK(train::load_experiment("ex-2.5.1").model.name() == "CNColorMLP(4,1)");
  CHECK(train::load_experiment("ex-2.7.1").model.name() == "CNColorMLP(4,1)");
  CHECK(train::load_experiment("ex-2.10.1").model.name() == "CNColorMLP(5,2)");
}

TEST_CASE("m2 training: a short ex-2.9.1 run is byte-identical at 1 and 2 threads") {
  // Batch 64 already runs the fused p = 100 repulsion in parallel (it splits rows from
  // B^2 (k + 12) >= 2^16 pairs x dims, i.e. from B = 63 at k = 5).
  const fs::path dir = test::temp_dir("m2");
  std::vector<fs::path> outs;
  for (int threads : {1, 2}) {
    train::Options o;
    o.experiment = train::load_experiment("ex-2.9.1", {{"steps=200", "snapshot_every=100"}, {}});
    o.threads = threads;
    o.quiet = true;
    o.out = (dir / (threads == 1 ? "one" : "two")).string();
    const train::Result r = train::run(o);
    CHECK(std::isfinite(r.final_total));
    outs.push_back(o.out);
  }
  CHECK(test::read_file(outs[0] / "metrics.csv") == test::read_file(outs[1] / "metrics.csv"));
  CHECK(test::read_file(outs[0] / "checkpoint.safetensors") == test::read_file(outs[1] / "checkpoint.safetensors"));
  fs::remove_all(dir);
}

TEST_CASE("m2 intervene command: writes its outputs and rejects bad input with clear messages") {
  const fs::path dir = test::temp_dir("m2");
  train::Options o;  // the whole ex-2.4.1 run (0.2 s): red must sit on +dim 0 and cyan opposite
  o.experiment = train::load_experiment("ex-2.4.1", {{"snapshot_every=0"}, {}});
  o.quiet = true;
  o.out = (dir / "run").string();
  train::run(o);

  {  // The organization loss models are selected by, recomputed in double from the trained model: the
     // anchor on pure red alone (1 - cos(z, e0)) plus the subspace term over the 42 colors of S V = 1.
    const train::TrainedModel trained = train::load_trained_model(o.out);
    Tape<float> tape;
    Rng unused(0, Stream::Init);
    Autoencoder<float> model = make_model(tape, trained.model, unused);
    const std::vector<Parameter<float>> params = model.parameters();
    for (std::size_t p = 0; p < params.size(); ++p) params[p].tensor.value() = trained.values[p];
    const color::ColorSet cube = color::rgb_cube(8);
    const Matrix<float> z = color::encode(model, tape, cube.rgb);
    double anchor = 0, subspace = 0;
    int reds = 0, vibrant = 0;
    for (long i = 0; i < z.rows(); ++i) {
      const auto c = cube.rgb.row(i);
      if (c(0) == 1 && c(1) == 0 && c(2) == 0) anchor += 1 - z(i, 0) / z.row(i).cast<double>().norm(), ++reds;
      if (c.maxCoeff() - c.minCoeff() == 1) subspace += double(z(i, 2)) * z(i, 2) + double(z(i, 3)) * z(i, 3), ++vibrant;
    }
    CHECK(reds == 1);
    CHECK(vibrant == 42);
    const nlohmann::json metrics = nlohmann::json::parse(test::read_file(fs::path(o.out) / "summary.json"))["metrics"];
    CHECK(metrics["organization_validation"].get<double>() ==
          doctest::Approx(anchor / reds + subspace / vibrant).epsilon(1e-5));
  }

  const std::string run = o.out, out = (dir / "suppress").string();
  const nlohmann::json report_before = figures::report_data(run + "/report.html");
  REQUIRE(intervene_cli({run, "--suppress", "red", "--p", "0", "--out", out, "--quiet"}).code == 0);
  for (const char* f : {"colors.csv", "summary.json", "patches.svg", "patches_baseline.svg", "mse_vs_hue.svg",
                        "error_vs_similarity.svg"})
    CHECK(fs::file_size(fs::path(out) / f) > 100);
  const nlohmann::json summary = nlohmann::json::parse(test::read_file(fs::path(out) / "summary.json"));
  CHECK(summary["experiment"] == o.experiment.label());  // ex-2.4.1 without snapshots: a custom label
  CHECK(summary["intervention"]["kind"] == "suppress");
  CHECK(summary["score"]["n"] == 512);
  CHECK(summary["score"]["power"] == 2.0);
  const double r2 = summary["score"]["r2"];
  CHECK(r2 > 0);
  CHECK(r2 <= 1);
  CHECK(summary["red_dmse"].get<double>() > 0.01);  // suppressing red costs red ...
  CHECK(std::abs(summary["cyan_dmse"].get<double>()) < 1e-6);  // ... and cyan, opposite, nothing
  // 512 cube + 17 named + 240 slice + 1080 hue rows, and a header.
  const std::string csv = test::read_file(fs::path(out) / "colors.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 512 + 17 + 240 + 1080);
  // The same input gives the same bytes.
  const std::string again = (dir / "again").string();
  REQUIRE(intervene_cli({run, "--suppress", "red", "--p", "0", "--out", again, "--quiet"}).code == 0);
  CHECK(test::read_file(fs::path(again) / "colors.csv") == csv);

  // Ablation and pruning, with a table over two runs (the same run twice is enough here).
  const std::string table = (dir / "table.csv").string();
  REQUIRE(intervene_cli({run, run, "--prune", "0", "--name", "pruned", "--table", table, "--quiet"}).code == 0);
  const nlohmann::json pruned = nlohmann::json::parse(test::read_file(fs::path(run) / "pruned" / "summary.json"));
  CHECK(pruned["intervention"]["ablate_prune_max_abs_diff"].get<double>() < 1e-5);
  CHECK(pruned["score"]["power"] == 3.0);
  const std::string rows = test::read_file(table);
  CHECK(std::count(rows.begin(), rows.end(), '\n') == 3);

  // Subspace suppression (the paper's 2.7.1): dims zeroed after the normalization, scored against
  // vibrancy. It is not ablation: ablation renormalizes the dims left, zeroing does not.
  REQUIRE(intervene_cli({run, "--zero", "0,1", "--concept", "vibrancy", "--score-power", "2.3", "--quiet"}).code == 0);
  REQUIRE(intervene_cli({run, "--ablate", "0,1", "--concept", "vibrancy", "--quiet"}).code == 0);
  const nlohmann::json zeroed = nlohmann::json::parse(test::read_file(fs::path(run) / "intervene-zero-0+1" / "summary.json"));
  const nlohmann::json ablated = nlohmann::json::parse(test::read_file(fs::path(run) / "intervene-ablate-0+1" / "summary.json"));
  CHECK(zeroed["intervention"]["kind"] == "zero");
  CHECK(zeroed["intervention"]["dims"] == nlohmann::json::array({0, 1}));
  CHECK(zeroed["score"]["concept"] == "vibrancy");
  CHECK(zeroed["score"]["concept_hsv"].is_null());
  CHECK(zeroed["score"]["power"] == 2.3);
  CHECK(zeroed["red_dmse"].get<double>() > 0.01);  // the hue plane holds red ...
  CHECK(zeroed["named"]["gray"]["dmse"].get<double>() < zeroed["red_dmse"].get<double>() / 10);  // ... not gray
  CHECK(zeroed["named"]["red"]["mse_after"] != ablated["named"]["red"]["mse_after"]);
  CHECK(zeroed["score"]["r2"].get<double>() > 0);

  // Bad input: errors that name the problem.
  CHECK(intervene_error({run, "--ablate", "0", "--concept", "blue", "--quiet"})
            .find("unknown concept 'blue' (known: red, vibrancy)") != std::string::npos);
  CHECK(intervene_error({(dir / "nowhere").string(), "--suppress", "red", "--quiet"})
            .find("spheregrad intervene: error: no such run folder") != std::string::npos);
  CHECK(intervene_error({run, "--suppress", "blue", "--quiet"}).find("unknown concept 'blue' (known: red)") !=
        std::string::npos);
  CHECK(intervene_error({run, "--ablate", "4", "--quiet"}).find("dim 4 is out of range (the bottleneck has 4 dims") !=
        std::string::npos);
  // Usage errors: exit code 2, nothing written.
  auto usage_error = [&](const std::vector<std::string>& args, const std::string& message) {
    const Ran r = intervene_cli(args);
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(message) != std::string::npos);
  };
  usage_error({run, "--quiet"}, "no intervention given");
  usage_error({"--suppress", "red"}, "RUN_DIR is required");
  usage_error({run, "--ablate", "0", "--p", "1", "--quiet"}, "--a0, --b and --p shape --suppress and --repel only");
  usage_error({run, "--suppress", "red", "--ablate", "0"}, "choose one intervention");
  usage_error({run, "--suppress", "red", "--concept", "vibrancy"}, "--concept is for --ablate, --prune and --zero");
  usage_error({run, "--zero", "0", "--p", "0"}, "--a0, --b and --p shape --suppress and --repel only");
  usage_error({run, "--ablate", "x"}, "--ablate expects bottleneck dims like 0 or 0,2, got 'x'");
  usage_error({run, "--suppress", "red", "--b", "2"}, "falloff: b must be in [0, 1]");
  usage_error({run, run, "--suppress", "red", "--out", out}, "--out takes one RUN_DIR");
  // Earlier results are never replaced by accident, and a run's own files never at all.
  const std::string summary_before = test::read_file(fs::path(out) / "summary.json");
  const Ran twice = intervene_cli({run, "--suppress", "red", "--p", "0", "--out", out, "--quiet"});
  CHECK(twice.code == 1);
  CHECK(twice.err.find(out + "/summary.json already exists: choose another output, or replace it with --overwrite") !=
        std::string::npos);
  CHECK(test::read_file(fs::path(out) / "summary.json") == summary_before);
  CHECK(intervene_cli({run, "--suppress", "red", "--p", "0", "--out", out, "--quiet", "--overwrite"}).code == 0);
  {  // The run's report.html shows each intervention once, by its folder (relative inside the run,
     // absolute outside; --overwrite and the same run twice replace the entry), with the panels the
     // intervention wrote, and keeps the run's own data.
    nlohmann::json report = figures::report_data(run + "/report.html");
    std::vector<std::string> folders;
    for (const nlohmann::json& e : report["interventions"]) folders.push_back(e["folder"]);
    const std::vector<std::string> expected = {fs::weakly_canonical(out).string(), fs::weakly_canonical(again).string(),
                                               "pruned", "intervene-zero-0+1", "intervene-ablate-0+1"};
    CHECK(folders == expected);
    const nlohmann::json& entry = report["interventions"][2];
    CHECK(entry["r2"] == pruned["score"]["r2"]);
    CHECK(entry["patches"] == test::read_file(fs::path(run) / "pruned" / "patches.svg"));
    CHECK(entry["errors"] == test::read_file(fs::path(run) / "pruned" / "mse_vs_hue.svg"));
    report.erase("interventions");
    CHECK(report == report_before);
    // A page this version cannot read stays as it is; the intervention still writes its outputs.
    const fs::path copy = dir / "edited";
    fs::copy(run, copy, fs::copy_options::recursive);
    const std::string edited = "<html>edited by hand</html>";
    std::ofstream(copy / "report.html") << edited;
    const Ran noted = intervene_cli({copy.string(), "--ablate", "0", "--quiet"});
    CHECK(noted.code == 0);
    CHECK(noted.err.find("not a report written by this version of spheregrad; the intervention is not added") !=
          std::string::npos);
    CHECK(test::read_file(copy / "report.html") == edited);
    CHECK(fs::exists(copy / "intervene-ablate-0" / "summary.json"));
  }
  const std::string run_summary = test::read_file(fs::path(run) / "summary.json");
  usage_error({run, "--suppress", "red", "--out", run}, "would be the run folder");
  usage_error({run, "--suppress", "red", "--out", dir.string()}, "would be the run folder");
  usage_error({run, "--suppress", "red", "--name", ".."}, "--name expects a folder name (not '.' or '..', without '/')");
  usage_error({run, "--suppress", "red", "--name", "x", "--table", run + "/summary.json"}, "is inside the run folder");
  CHECK(test::read_file(fs::path(run) / "summary.json") == run_summary);
  const Ran table_twice = intervene_cli({run, run, "--prune", "0", "--name", "pruned2", "--table", table, "--quiet"});
  CHECK(table_twice.code == 1);
  CHECK(table_twice.err.find(table + " already exists") != std::string::npos);

  // The program itself ($SPHEREGRAD_CLI, as `make test` sets it): exit status and stderr.
  const char* env = std::getenv("SPHEREGRAD_CLI");
  const std::string program = env ? env : "build/spheregrad";
  if (fs::exists(program)) {
    const fs::path err = dir / "stderr.txt";
    const int status = std::system((program + " intervene " + (dir / "nowhere").string() + " --suppress red 2> " +
                                    err.string()).c_str());
    CHECK(WEXITSTATUS(status) == 1);
    CHECK(test::read_file(err).find("spheregrad intervene: error: no such run folder") != std::string::npos);
    // Four processes at once on one run: every one arrives in its report.html.
    std::string together;
    for (int i = 0; i < 4; ++i)
      together += program + " intervene " + run + " --ablate " + std::to_string(i) + " --name concurrent" +
                  std::to_string(i) + " --quiet & ";
    CHECK(WEXITSTATUS(std::system((together + "wait").c_str())) == 0);
    int arrived = 0;
    const nlohmann::json report = figures::report_data(run + "/report.html");
    for (const nlohmann::json& e : report["interventions"]) arrived += e["folder"].get<std::string>().rfind("concurrent", 0) == 0;
    CHECK(arrived == 4);
  }
  fs::remove_all(dir);
}
