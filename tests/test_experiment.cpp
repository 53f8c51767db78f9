// Tests of experiment files: every built-in loads and resolves, malformed files are refused
// with the JSON path of what is wrong, --set overrides reach any field, a custom experiment
// trains without a rebuild, and a run folder's experiment.json repeats its run byte for byte.
#include <doctest/doctest.h>

#include "tests/test_util.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "examples/experiment/experiment.hpp"
#include "examples/experiment/train.hpp"

using namespace sg;
namespace fs = std::filesystem;

namespace {

// The error of an experiment given as JSON (a mutation of the resolved Ex 1.7), or "no error".
std::string error_of(const train::Json& j) {
  try {
    train::parse_experiment(j.dump(), "t.json");
  } catch (const train::ExperimentError& e) {
    return e.what();
  }
  return "no error";
}

std::string error_of_text(const std::string& text) {
  try {
    train::parse_experiment(text, "t.json");
  } catch (const train::ExperimentError& e) {
    return e.what();
  }
  return "no error";
}

train::Json ex17() { return train::load_experiment("ex-1.7").resolved; }

}  // namespace

TEST_CASE("experiments: every built-in resolves, and its resolved form reads back to itself") {
  const std::vector<std::string> names = train::builtin_names();
  CHECK(names.size() == 14);
  for (const std::string& name : names) {
    CAPTURE(name);
    const train::Experiment e = train::load_experiment(name);
    CHECK(e.name == name);
    CHECK(e.stock);
    CHECK(e.label() == name);
    CHECK(e.hash.size() == 8);
    CHECK(e.resolved["dopesheet"].is_array());  // inline, one string per line
    // The resolved form is a fixed point: reading it gives the same experiment and hash.
    const train::Experiment again = train::parse_experiment(train::to_text(e.resolved), "resolved");
    CHECK(again.resolved == e.resolved);
    CHECK(again.hash == e.hash);
    CHECK(again.stock);
  }
  // The seed is not part of the identity; anything else is.
  const train::Experiment seeded = train::load_experiment("ex-1.7", {{"seed=7"}, {}});
  CHECK(seeded.stock);
  CHECK(seeded.seed == 7);
  CHECK(train::default_out(seeded) == "out/ex-1.7-seed7");
  const train::Experiment wider = train::load_experiment("ex-1.7", {{"model.bottleneck=5"}, {}});
  CHECK_FALSE(wider.stock);
  CHECK(wider.label() == "ex-1.7-" + wider.hash);
  CHECK(wider.hash != seeded.hash);
  CHECK(train::default_out(wider) == "out/ex-1.7-" + wider.hash + "-seed0");
  CHECK(wider.model.name() == "ColorMLP(5)");
}

TEST_CASE("experiments: --set reaches any field; null removes a key; --without disables a term") {
  const train::Experiment e = train::load_experiment(
      "ex-1.7", {{"regularizers.reg-separate.power=6", "labels.red.scale=0.25", "batch=128", "description=mine",
                  "model.activation=relu", "regularizers.reg-polar.affinities={\"red\": 1, \"vibrant\": 0.5}"},
                 {"reg-norm-v"}});
  CHECK(e.regularizer("reg-separate")->angular.power == 6);
  CHECK(e.labels[0].scale == 0.25);
  CHECK(e.batch == 128);
  CHECK(e.description == "mine");  // not JSON: taken as a string
  CHECK(e.model.activation == MlpSpec::Activation::ReLU);
  CHECK(e.regularizer("reg-polar")->affinities == loss::Affinities{{"red", 1.0}, {"vibrant", 0.5}});
  CHECK_FALSE(e.regularizer("reg-norm-v")->enabled);
  CHECK(e.resolved["regularizers"]["reg-norm-v"]["enabled"] == false);
  // null restores a default: the description is "" again.
  CHECK(train::load_experiment("ex-1.7", {{"description=null"}, {}}).description.empty());
  CHECK_THROWS_WITH_AS(train::load_experiment("ex-1.7", {{"batch.size=3"}, {}}),
                       "--set batch.size=3: 'size' is inside a value that is not an object", train::ExperimentError);
  CHECK_THROWS_WITH_AS(train::load_experiment("ex-1.7", {{"batch"}, {}}), "--set batch: expected key.path=value",
                       train::ExperimentError);
  CHECK_THROWS_WITH_AS(train::load_experiment("ex-1.7", {{}, {"reg-nope"}}),
                       "--without reg-nope: experiment ex-1.7 (built-in) has no regularizer of that name",
                       train::ExperimentError);
}

TEST_CASE("experiments: malformed files are refused with the JSON path of what is wrong") {
  struct Case {
    const char* what;
    train::Json j;
    std::string message;  // after "t.json: "
  };
  std::vector<Case> cases;
  auto with = [](auto change) {
    train::Json j = ex17();
    change(j);
    return j;
  };
  cases.push_back({"a list", train::Json::array(), "expected an object, got []"});
  cases.push_back({"no name", with([](auto& j) { j.erase("name"); }), "name: missing (required)"});
  cases.push_back({"a name with a slash", with([](auto& j) { j["name"] = "a/b"; }),
                   "name: expected 1 to 64 letters, digits, '-', '_' or '.' (it names run folders), got \"a/b\""});
  cases.push_back({"an unknown key", with([](auto& j) { j["bach"] = 64; }),
                   "bach: unknown key (known here: batch, data, description, dopesheet, epoch, focus, heldout_hues_deg, labels, "
                   "log_every, model, name, reconstruction, regularizers, seed, snapshot_every, soft_labels, steps)"});
  cases.push_back({"no model", with([](auto& j) { j.erase("model"); }), "model: missing (required)"});
  cases.push_back({"an epoch leaving one sample", with([](auto& j) { j["epoch"] = 3585; }),
                   "epoch: the last batch of each epoch would hold 1 sample (3585 = 56 x 64 + 1); a batch needs 2"});
  cases.push_back({"a bottleneck as text", with([](auto& j) { j["model"]["bottleneck"] = "x"; }),
                   "model.bottleneck: expected an integer in [2, 64], got \"x\""});
  cases.push_back({"a bottleneck of 1", with([](auto& j) { j["model"]["bottleneck"] = 1; }),
                   "model.bottleneck: expected an integer in [2, 64], got 1"});
  cases.push_back({"a fractional depth", with([](auto& j) { j["model"]["depth"] = 1.5; }),
                   "model.depth: expected an integer in [1, 16], got 1.5"});
  cases.push_back({"an unknown activation", with([](auto& j) { j["model"]["activation"] = "tanh"; }),
                   "model.activation: expected one of gelu, relu, got \"tanh\""});
  cases.push_back({"normalize as text", with([](auto& j) { j["model"]["normalize"] = "yes"; }),
                   "model.normalize: expected true or false, got \"yes\""});
  cases.push_back({"no data", with([](auto& j) { j["data"] = train::Json::object(); }),
                   "data: no data: give at least \"*\" (every phase)"});
  cases.push_back({"an unknown set", with([](auto& j) { j["data"]["*"]["set"]["kind"] = "cube"; }),
                   "data.*.set.kind: expected one of hsv-cube, rgb-cube, hue-ring, hsv-grid, got \"cube\""});
  cases.push_back({"an unknown sampling", with([](auto& j) { j["data"]["*"]["sampling"] = "random"; }),
                   "data.*.sampling: expected one of full-batch, weighted, focused, got \"random\""});
  cases.push_back({"a grid value above 1",
                   with([](auto& j) {
                     j["data"]["*"]["set"] = {{"kind", "hsv-grid"}, {"hues", {{"count", 12}}}, {"saturations", {1}}, {"values", {0.5, 2}}};
                   }),
                   "data.*.set.values[1]: expected a number in [0, 1], got 2"});
  cases.push_back({"a grid without hues",
                   with([](auto& j) { j["data"]["*"]["set"] = {{"kind", "hsv-grid"}, {"saturations", {1}}, {"values", {1}}}; }),
                   "data.*.set.hues: missing (required)"});
  cases.push_back({"focused sampling without a focus", with([](auto& j) { j["data"]["*"]["sampling"] = "focused"; }),
                   "data.*.sampling: 'focused' needs a focus other than 'none'"});
  cases.push_back({"data for a phase the dopesheet lacks", with([](auto& j) { j["data"]["Warm-up"] = j["data"]["*"]; }),
                   "data.Warm-up: the dopesheet has no phase of that name"});
  cases.push_back({"an unknown label base", with([](auto& j) { j["labels"]["red"]["of"] = "blueishness"; }),
                   "labels.red.of: expected one of redness, vibrancy, desaturation, greenness, blueness, got \"blueishness\""});
  cases.push_back({"a label probability above 1", with([](auto& j) { j["labels"]["red"]["scale"] = 2; }),
                   "labels.red.scale: expected a number in [0, 1], got 2"});
  cases.push_back({"an unknown term", with([](auto& j) { j["regularizers"]["reg-norm"]["term"] = "magic"; }),
                   "regularizers.reg-norm.term: expected one of unitarity, planarity, subspace, angular-repulsion, "
                   "euclidean-repulsion, anchor, angular-anchor, anti-anchor, drift-anchor, uniformity, energy, got \"magic\""});
  cases.push_back({"an energy distance that does not exist",
                   with([](auto& j) { j["regularizers"]["reg-norm"] = {{"term", "energy"}, {"distance", "manhattan"}}; }),
                   "regularizers.reg-norm.distance: expected one of euclidean, angular, got \"manhattan\""});
  cases.push_back({"a Riesz exponent with the log energy",
                   with([](auto& j) { j["regularizers"]["reg-norm"] = {{"term", "energy"}, {"kernel", "log"}, {"s", 2}}; }),
                   "regularizers.reg-norm.s: unknown key"});
  cases.push_back({"an affinity as text", with([](auto& j) { j["regularizers"]["reg-polar"]["affinities"]["red"] = "x"; }),
                   "regularizers.reg-polar.affinities.red: expected a number in [0, 1], got \"x\""});
  cases.push_back({"an affinity for an unknown label", with([](auto& j) { j["regularizers"]["reg-polar"]["affinities"]["green"] = 1; }),
                   "regularizers.reg-polar.affinities.green: unknown label 'green' (labels: red, vibrant, desaturated)"});
  cases.push_back({"a repulsion power below 1", with([](auto& j) { j["regularizers"]["reg-separate"]["power"] = 0.5; }),
                   "regularizers.reg-separate.power: expected a number in [1, 1000], got 0.5"});
  cases.push_back({"a fractional power without the shift", with([](auto& j) { j["regularizers"]["reg-separate"]["power"] = 2.5; }),
                   "regularizers.reg-separate.power: without the shift the power must be an integer (a negative cosine "
                   "has no real fractional power)"});
  cases.push_back({"an option the term does not take", with([](auto& j) { j["regularizers"]["reg-norm"]["power"] = 3; }),
                   "regularizers.reg-norm.power: unknown key (known here: affinities, enabled, focus_weighted, term)"});
  cases.push_back({"a subspace dim beyond the bottleneck",
                   with([](auto& j) { j["regularizers"]["reg-planar"] = {{"term", "subspace"}, {"dims", {0, 7}}}; }),
                   "regularizers.reg-planar.dims[1]: expected an integer in [0, 3], got 7"});
  cases.push_back({"an anchor axis beyond the bottleneck", with([](auto& j) { j["regularizers"]["reg-polar"]["axis"] = 4; }),
                   "regularizers.reg-polar.axis: expected an integer in [0, 3], got 4"});
  cases.push_back({"an anchor point of the wrong width", with([](auto& j) { j["regularizers"]["reg-polar"]["point"] = {1, 0}; }),
                   "regularizers.reg-polar.point: expected 4 numbers (the bottleneck's width), got [1,0]"});
  cases.push_back({"a regularizer without a column",
                   with([](auto& j) { j["regularizers"]["reg-extra"] = {{"term", "unitarity"}}; }),
                   "regularizers.reg-extra: the dopesheet has no column 'reg-extra' to weight it (a missing weight is an "
                   "error, never a default)"});
  cases.push_back({"a column that weights nothing", with([](auto& j) { j["regularizers"].erase("reg-norm-v"); }),
                   "dopesheet: column 'reg-norm-v' weights nothing (no regularizer of that name, and not a setting: lr, "
                   "loss-recon)"});
  cases.push_back({"a dopesheet that is a number", with([](auto& j) { j["dopesheet"] = 3; }),
                   "dopesheet: expected a file name or a list of CSV lines, got 3"});
  cases.push_back({"a malformed dopesheet cell", with([](auto& j) { j["dopesheet"][2] = "+10,,,0.0x1,,,,,"; }),
                   "dopesheet:3:"});
  cases.push_back({"a negative learning rate", with([](auto& j) { j["dopesheet"][2] = "+10,,,-0.01,,,,,"; }),
                   "dopesheet: column 'lr' has the value -0.01 at step 10 (weights and lr are >= 0)"});
  cases.push_back({"a negative weight", with([](auto& j) { j["dopesheet"][3] = "500,,,,-0.02,,,,"; }),
                   "dopesheet: column 'reg-separate' has the value -0.02 at step 500 (weights and lr are >= 0)"});
  cases.push_back({"an unknown action", with([](auto& j) { j["dopesheet"][3] = "500,,anchr,,0.02,,,,"; }),
                   "dopesheet: unknown ACTION 'anchr' at step 500 (a run knows: anchor)"});
  cases.push_back({"a batch of 1", with([](auto& j) { j["batch"] = 1; }), "batch: expected an integer in [2, 65536], got 1"});
  cases.push_back({"a negative seed", with([](auto& j) { j["seed"] = -1; }), "seed: expected an integer >= 0, got -1"});
  cases.push_back({"zero steps", with([](auto& j) { j["steps"] = 0; }), "steps: expected an integer in [1, 100000000], got 0"});
  cases.push_back({"log_every 0", with([](auto& j) { j["log_every"] = 0; }),
                   "log_every: expected an integer in [1, 100000000], got 0"});
  cases.push_back({"a reversed held-out band", with([](auto& j) { j["heldout_hues_deg"] = {200, 100}; }),
                   "heldout_hues_deg[1]: expected an integer in [200, 359], got 100"});
  CHECK(cases.size() >= 25);
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::string error = error_of(c.j);
    INFO(error);
    CHECK(error.rfind("t.json: " + c.message, 0) == 0);
  }
  CHECK(error_of_text("{\"name\": ").rfind("t.json: not valid JSON: ", 0) == 0);
  const fs::path dir = test::temp_dir("experiment");
  std::ofstream(dir / "t.json") << "{\"name\": \"x\", \"dopesheet\": \"no-such.csv\"}";
  CHECK_THROWS_WITH_AS(train::load_experiment((dir / "t.json").string()),
                       ((dir / "t.json").string() + ": dopesheet: cannot read '" + (dir / "no-such.csv").string() + "'").c_str(),
                       train::ExperimentError);
  fs::remove_all(dir);
  // A stored experiment (a run's experiment.json, a checkpoint's) never names a file.
  CHECK(error_of_text("{\"name\": \"x\", \"dopesheet\": \"no-such.csv\"}") ==
        "t.json: dopesheet: a stored experiment holds its dopesheet's lines, not a file name ('no-such.csv')");
  CHECK_THROWS_WITH_AS(train::load_experiment("/dev/zero"), "experiment file '/dev/zero' is larger than 16 MiB",
                       train::ExperimentError);
  CHECK(error_of(ex17()) == "no error");  // the mutations above are the only faults
}

TEST_CASE("experiments: epoch gives every ceil(epoch / batch)-th batch the remainder; absent, the hash is kept") {
  const train::Experiment plain = train::load_experiment("ex-1.7");
  const train::Experiment epochs = train::load_experiment("ex-1.7", {{"epoch=3600"}, {}});
  CHECK_FALSE(plain.resolved.contains("epoch"));  // so every experiment without it keeps its hash
  CHECK(epochs.hash != plain.hash);
  for (int step = 0; step < 3 * 57; ++step) {
    CAPTURE(step);
    CHECK(plain.batch_at(step) == 64);
    CHECK(epochs.batch_at(step) == (step % 57 == 56 ? 16 : 64));  // 56 x 64 + 16 = 3600
  }
  train::Options o;
  o.quiet = true;
  o.write_outputs = false;
  o.experiment = train::load_experiment("ex-1.7", {{"epoch=3600", "steps=120"}, {}});
  const train::Result a = train::run(o);
  o.experiment = train::load_experiment("ex-1.7", {{"steps=120"}, {}});
  const train::Result b = train::run(o);
  CHECK(a.final_total != b.final_total);  // the short batch at step 56 changes what follows
}

TEST_CASE("experiments: soft_labels uses each label's probability; absent, the hash is kept") {
  const train::Experiment plain = train::load_experiment("ex-1.7");
  CHECK_FALSE(plain.resolved.contains("soft_labels"));
  CHECK(train::load_experiment("ex-1.7", {{"soft_labels=true"}, {}}).hash != plain.hash);
  train::Options o;
  o.quiet = true;
  o.write_outputs = false;
  o.experiment = train::load_experiment("ex-1.7", {{"soft_labels=true", "steps=50"}, {}});
  const train::Result soft = train::run(o);
  o.experiment = train::load_experiment("ex-1.7", {{"soft_labels=false", "steps=50"}, {}});
  const train::Result drawn = train::run(o);
  o.experiment = train::load_experiment("ex-1.7", {{"steps=50"}, {}});
  const train::Result absent = train::run(o);
  CHECK(soft.final_total != drawn.final_total);
  CHECK(drawn.final_total == absent.final_total);  // false is the default: the same run
  CHECK(std::isfinite(soft.final_total));
}

TEST_CASE("experiments: a custom experiment trains without a rebuild; its experiment.json repeats it byte for byte") {
  const fs::path dir = test::temp_dir("experiment");
  // A 5-D bottleneck, a "green" label (greenness^10), green anchored at 120 degrees on the hue
  // plane, red's anchor now also on vibrant-and-red samples at half strength.
  const std::string sheet =
      "[\"STEP,PHASE,ACTION,lr,reg-separate,reg-planar,reg-norm,reg-norm-v,reg-polar,reg-green\","
      "\"0,Train,,1e-8,0.001,0.02,0.01,0.02,0.006,0.006\",\"+10,,,0.01,,,,,,\",\"299,,,0.01,,,,,,\"]";
  const train::Overrides overrides{{"model.bottleneck=5", "labels.green={\"of\": \"greenness\", \"scale\": 0.5, \"power\": 10}",
                                    "regularizers.reg-green={\"term\": \"anchor\", \"point\": [-0.5, 0.8660254, 0, 0, 0], "
                                    "\"affinities\": {\"green\": 1}}",
                                    "regularizers.reg-polar.affinities.vibrant=0.5", "dopesheet=" + sheet, "seed=3"},
                                   {}};
  train::Options o;
  o.experiment = train::load_experiment("ex-1.7", overrides);
  CHECK_FALSE(o.experiment.stock);
  o.quiet = true;
  o.out = (dir / "a").string();
  const train::Result r = train::run(o);
  CHECK(r.steps == 300);
  const std::string csv = test::read_file(dir / "a" / "metrics.csv");
  CHECK(csv.substr(0, csv.find('\n')).find(",reg-green:raw,reg-green:weighted,total,n_red,n_vibrant,n_desaturated,n_green") !=
        std::string::npos);
  CHECK(test::read_file(dir / "a" / "latents.npy").find("'shape': (3, 512, 5)") != std::string::npos);

  // The folder alone repeats the run.
  train::Options again;
  again.experiment = train::load_experiment((dir / "a" / "experiment.json").string());
  CHECK(again.experiment.hash == o.experiment.hash);
  CHECK(again.experiment.seed == 3);
  again.quiet = true;
  again.out = (dir / "b").string();
  train::run(again);
  for (const char* f : {"experiment.json", "metrics.csv", "checkpoint.safetensors", "latents.npy", "latent_steps.npy"}) {
    CAPTURE(f);
    CHECK(test::read_file(dir / "a" / f) == test::read_file(dir / "b" / f));
  }
  const std::string summary = test::read_file(dir / "a" / "summary.json");
  CHECK(summary.find("\"label\": \"ex-1.7-" + o.experiment.hash + "\"") != std::string::npos);
  CHECK(summary.find("\"stock\": false") != std::string::npos);
  CHECK(test::read_file(dir / "a" / "report.html").find("ex-1.7 (custom " + o.experiment.hash + ") seed 3") !=
        std::string::npos);
  fs::remove_all(dir);
}
