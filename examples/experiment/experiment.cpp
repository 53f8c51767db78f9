// examples/experiment/experiment.cpp -- an experiment's schema: every field read, checked and
// resolved (json_reader.hpp), then the names checked against the dopesheet.
#include "examples/experiment/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "examples/experiment/json_reader.hpp"
#include "schedule/dopesheet.hpp"

namespace sg::train {

namespace {

// ------------------------------------------------------------------ data sets

// A list of values in [lo, hi]: a JSON array, {"linspace": [lo, hi, n]}, and for hues also
// {"count": n} (i / n) or {"degrees": [first, last], "except": [a, b]} (whole degrees / 360).
std::vector<double> read_values(Object& parent, const std::string& key, bool hues) {
  const Json& v = parent.require(key);
  const std::string path = parent.at(key);
  parent.out[key] = v;
  std::vector<double> values;
  if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i)
      values.push_back(parent.check_number(v[i], path + "[" + std::to_string(i) + "]", 0, hues ? std::nextafter(1.0, 0.0) : 1.0));
  } else {
    Object o(parent.source(), v, path);
    if (o.get("linspace")) {
      const Json& l = *o.get("linspace");
      if (!l.is_array() || l.size() != 3) o.fail(o.at("linspace"), "expected [lo, hi, n], got " + shown(l));
      const double lo = o.check_number(l[0], o.at("linspace") + "[0]", 0, 1), hi = o.check_number(l[1], o.at("linspace") + "[1]", 0, 1);
      const long n = o.check_integer(l[2], o.at("linspace") + "[2]", 1, 100000);
      for (long i = 0; i < n; ++i) values.push_back(n == 1 ? lo : lo + (hi - lo) * double(i) / double(n - 1));
    } else if (hues && o.get("count")) {
      const long n = o.check_integer(*o.get("count"), o.at("count"), 1, 100000);
      for (long i = 0; i < n; ++i) values.push_back(double(i) / double(n));
    } else if (hues && o.get("degrees")) {
      const Json& d = *o.get("degrees");
      if (!d.is_array() || d.size() != 2) o.fail(o.at("degrees"), "expected [first, last], got " + shown(d));
      const long first = o.check_integer(d[0], o.at("degrees") + "[0]", 0, 359), last = o.check_integer(d[1], o.at("degrees") + "[1]", first, 359);
      long skip_first = 1, skip_last = 0;  // an empty band
      if (const Json* e = o.get("except")) {
        if (!e->is_array() || e->size() != 2) o.fail(o.at("except"), "expected [first, last], got " + shown(*e));
        skip_first = o.check_integer((*e)[0], o.at("except") + "[0]", 0, 359);
        skip_last = o.check_integer((*e)[1], o.at("except") + "[1]", skip_first, 359);
      }
      for (long deg = first; deg <= last; ++deg)
        if (deg < skip_first || deg > skip_last) values.push_back(double(deg) / 360.0);
    } else {
      o.fail(path, std::string("expected a list of numbers, {\"linspace\": [lo, hi, n]}") +
                       (hues ? ", {\"count\": n} or {\"degrees\": [first, last], \"except\": [a, b]}" : "") + ", got " + shown(v));
    }
    o.finish();
  }
  if (values.empty()) parent.fail(path, "no values");
  return values;
}

constexpr long kMaxColors = 1000000;  // a data set's size: bounded, so that a typo cannot exhaust memory

color::ColorSet read_set(Object& s) {
  switch (s.choice("kind", std::nullopt, {"hsv-cube", "rgb-cube", "hue-ring", "hsv-grid"})) {
    case 0: {
      const int h = int(s.integer("hues", 36, 1, 3600)), sat = int(s.integer("saturations", 10, 1, 1000));
      const int v = int(s.integer("values", 10, 1, 1000));
      if (long(h) * sat * v > kMaxColors) s.fail(s.path(), "more than 10^6 colors");
      return color::hsv_cube(h, sat, v);
    }
    case 1: return color::rgb_cube(int(s.integer("n", 8, 1, 100)));
    case 2: return color::hue_ring(int(s.integer("n", 6, 1, 100000)));
    default: {
      const std::vector<double> h = read_values(s, "hues", true), sat = read_values(s, "saturations", false);
      const std::vector<double> v = read_values(s, "values", false);
      if (h.size() * sat.size() * v.size() > std::size_t(kMaxColors)) s.fail(s.path(), "more than 10^6 colors");
      return color::hsv_grid(h, sat, v);
    }
  }
}

// ------------------------------------------------------------------ the parts of an experiment

MlpSpec read_model(Object& m) {
  MlpSpec spec;
  spec.bottleneck = int(m.integer("bottleneck", std::nullopt, 2, 64));
  spec.hidden = int(m.integer("hidden", 16, 1, 1024));
  spec.depth = int(m.integer("depth", 1, 1, 16));
  spec.activation = m.choice("activation", "gelu", {"gelu", "relu"}) == 0 ? MlpSpec::Activation::GELU : MlpSpec::Activation::ReLU;
  spec.normalize = m.boolean("normalize", false);
  spec.output = MlpSpec::Output(m.choice("output", "sigmoid", {"sigmoid", "clamp-in-eval", "identity"}));
  return spec;
}

const std::vector<std::string> kTerms = {"unitarity",  "planarity",      "subspace",    "angular-repulsion",
                                         "euclidean-repulsion", "anchor", "angular-anchor", "anti-anchor",
                                         "drift-anchor", "uniformity", "energy"};

Regularizer read_regularizer(Object& o, const std::string& name, int k, const std::vector<color::LabelRule>& labels) {
  Regularizer r;
  r.name = name;
  r.kind = TermKind(o.choice("term", std::nullopt, kTerms));
  r.enabled = o.boolean("enabled", true);
  Object a = o.child("affinities");
  if (a.keys().size() > loss::kMaxAffinities)
    a.fail(a.path(), "at most " + std::to_string(loss::kMaxAffinities) + " affinities, got " + std::to_string(a.keys().size()));
  for (const std::string& label : a.keys()) {
    if (std::none_of(labels.begin(), labels.end(), [&](const color::LabelRule& l) { return l.name == label; })) {
      std::vector<std::string> known;
      for (const color::LabelRule& l : labels) known.push_back(l.name);
      a.fail(a.at(label), "unknown label '" + label + "' (labels: " + (known.empty() ? "none" : join(known)) + ")");
    }
    r.affinities[label] = a.number(label, std::nullopt, 0, 1);
  }
  o.out["affinities"] = a.finish();
  r.focus_weighted = o.boolean("focus_weighted", false);
  switch (r.kind) {
    case TermKind::Subspace: {
      const Json& dims = o.require("dims");
      if (!dims.is_array() || dims.empty()) o.fail(o.at("dims"), "expected a non-empty list of dims, got " + shown(dims));
      for (std::size_t i = 0; i < dims.size(); ++i) {
        const int d = int(o.check_integer(dims[i], o.at("dims") + "[" + std::to_string(i) + "]", 0, k - 1));
        if (std::find(r.dims.begin(), r.dims.end(), d) != r.dims.end()) o.fail(o.at("dims"), "dim " + std::to_string(d) + " twice");
        r.dims.push_back(d);
      }
      o.out["dims"] = dims;
      r.invert = o.boolean("invert", false);
      break;
    }
    case TermKind::AngularRepulsion:
      r.angular.power = o.number("power", 10, 1, 1000);
      r.angular.shift = o.boolean("shift", false);
      if (!r.angular.shift && r.angular.power != std::floor(r.angular.power))
        o.fail(o.at("power"), "without the shift the power must be an integer (a negative cosine has no real fractional power)");
      break;
    case TermKind::EuclideanRepulsion:
      r.euclidean.form = o.choice("form", "correct", {"correct", "original"}) == 0 ? loss::EuclideanForm::Correct
                                                                                   : loss::EuclideanForm::Original;
      break;
    case TermKind::Anchor:
    case TermKind::AngularAnchor:
    case TermKind::AntiAnchor:
      if (const Json* point = o.get("point")) {  // any direction, else sign x e_axis
        if (!point->is_array() || int(point->size()) != k)
          o.fail(o.at("point"), "expected " + std::to_string(k) + " numbers (the bottleneck's width), got " + shown(*point));
        for (int d = 0; d < k; ++d) r.anchor_point.push_back(o.check_number((*point)[d], o.at("point") + "[" + std::to_string(d) + "]", -1e6, 1e6));
        if (std::all_of(r.anchor_point.begin(), r.anchor_point.end(), [](double v) { return v == 0; }))
          o.fail(o.at("point"), "the zero vector has no direction");
        o.out["point"] = *point;
      } else {
        r.anchor_axis = int(o.integer("axis", 0, 0, k - 1));
        r.anchor_sign = double(o.integer("sign", 1, -1, 1));
        if (r.anchor_sign == 0) o.fail(o.at("sign"), "expected 1 or -1, got 0");
      }
      if (r.kind == TermKind::AntiAnchor) r.hemi = o.boolean("hemi", false);
      break;
    case TermKind::Uniformity: r.uniformity_t = o.number("t", 2, 1e-6, 1e6); break;
    case TermKind::Energy:
      r.energy.log = o.choice("kernel", "riesz", {"riesz", "log"}) == 1;
      if (!r.energy.log) r.energy.s = o.number("s", 1, 1e-3, 1e3);
      r.energy.distance = o.choice("distance", "euclidean", {"euclidean", "angular"}) == 0 ? loss::Distance::Euclidean
                                                                                          : loss::Distance::Angular;
      r.energy.half_space = o.boolean("half_space", false);
      r.energy.eps = o.number("eps", 0, 0, 1e6);
      r.energy.mask_duplicates = true;
      break;
    default: break;
  }
  return r;
}

std::string fnv_hex(const std::string& s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return std::string(buf, 8);
}

// Checks that the experiment's names and the dopesheet's columns and phases match.
void check_names(const Experiment& e, const schedule::Dopesheet& sheet, const std::string& source) {
  const auto fail = [&](const std::string& what) { throw ExperimentError(source + ": " + what); };
  std::vector<bool> used(sheet.properties.size(), false);
  std::vector<std::string> settings = {"lr", "loss-recon"};
  if (e.focus == Focus::Vibrancy) settings.push_back("data-fraction");
  if (e.focus == Focus::VibrancyAndHues) settings.insert(settings.end(), {"data-hues", "data-vibrancies"});
  for (const std::string& s : settings) {
    const int c = sheet.property_index(s);
    if (c >= 0) used[c] = true;
    else if (s == "lr") fail("dopesheet: no 'lr' column (the learning rate is always scheduled)");
    else if (s != "loss-recon") fail("focus: needs the column '" + s + "' in the dopesheet");
  }
  for (const Regularizer& r : e.regularizers) {
    const int c = sheet.property_index(r.name);
    if (c < 0) fail("regularizers." + r.name + ": the dopesheet has no column '" + r.name + "' to weight it (a missing weight is an error, never a default)");
    used[c] = true;
  }
  // Weights and the learning rate are never negative, a focus fraction is in [0, 1]; the one
  // action a run knows is `anchor` (the drift anchor's capture).
  for (const schedule::Property& p : sheet.properties) {
    const bool fraction = p.name.rfind("data-", 0) == 0;
    for (const schedule::Keyframe& k : p.keyframes)
      if (k.value < 0 || (fraction && k.value > 1))
        fail("dopesheet: column '" + p.name + "' has the value " + shown(Json(k.value)) + " at step " +
             std::to_string(k.step) + (fraction ? " (a fraction in [0, 1])" : " (weights and lr are >= 0)"));
  }
  for (const schedule::StepEvents& a : sheet.actions)
    for (const std::string& event : a.events)
      if (event != "anchor")
        fail("dopesheet: unknown ACTION '" + event.substr(0, 40) + "' at step " + std::to_string(a.step) +
             " (a run knows: anchor)");
  for (std::size_t c = 0; c < used.size(); ++c)
    if (!used[c])
      fail("dopesheet: column '" + sheet.properties[c].name + "' weights nothing (no regularizer of that name, and not a setting: " +
           join(settings) + ")");
  const auto has = [&](const std::string& phase) {
    return std::any_of(e.data.begin(), e.data.end(), [&](const PhaseData& d) { return d.phase == phase; });
  };
  for (const schedule::PhaseInstance& p : sheet.phases)
    if (!has(p.name) && !has("*")) fail("data: the dopesheet's phase '" + p.name + "' has no data (add \"" + p.name + "\" or \"*\")");
  if (!has("*") && (sheet.phases.empty() || sheet.phases.front().start > 0))
    fail("data: the steps before the dopesheet's first PHASE row have no data (add \"*\")");
  for (const PhaseData& d : e.data) {
    if (d.phase != "*" && std::none_of(sheet.phases.begin(), sheet.phases.end(), [&](const schedule::PhaseInstance& p) { return p.name == d.phase; }))
      fail("data." + d.phase + ": the dopesheet has no phase of that name");
    if (d.sampling == Sampling::Focused && e.focus == Focus::None)
      fail("data." + d.phase + ".sampling: 'focused' needs a focus other than 'none'");
  }
}

}  // namespace

const Regularizer* Experiment::regularizer(const std::string& n) const {
  for (const Regularizer& r : regularizers)
    if (r.name == n) return &r;
  return nullptr;
}

Experiment read_experiment(const Json& j, const std::string& source) {
  Experiment e;
  Object root(source, j, "");
  e.name = root.string("name", std::nullopt);
  if (e.name.empty() || e.name.size() > 64 ||
      !std::all_of(e.name.begin(), e.name.end(), [](char c) { return std::isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.'; }))
    root.fail("name", "expected 1 to 64 letters, digits, '-', '_' or '.' (it names run folders), got " + shown(j.at("name")));
  e.description = root.string("description", "");
  Object model = root.child("model", true);
  e.model = read_model(model);
  root.out["model"] = model.finish();
  const int k = e.model.bottleneck;

  e.focus = Focus(root.choice("focus", "none", {"none", "vibrancy", "vibrancy-and-hues"}));
  Object data = root.child("data", true);
  for (const std::string& phase : data.keys()) {
    Object d = data.child(phase);
    Object set = d.child("set", true);
    PhaseData p{phase, read_set(set), Sampling::Weighted};
    d.out["set"] = set.finish();
    p.sampling = Sampling(d.choice("sampling", "weighted", {"full-batch", "weighted", "focused"}));
    data.out[phase] = d.finish();
    e.data.push_back(std::move(p));
  }
  if (e.data.empty()) data.fail(data.path(), "no data: give at least \"*\" (every phase)");
  root.out["data"] = data.finish();
  Object recon = root.child("reconstruction");
  e.focus_weighted_recon = recon.boolean("focus_weighted", false);
  root.out["reconstruction"] = recon.finish();

  Object labels = root.child("labels");
  for (const std::string& name : labels.keys()) {
    Object l = labels.child(name);
    const int base = l.choice("of", std::nullopt, {"redness", "vibrancy", "desaturation", "greenness", "blueness"});
    const double scale = l.number("scale", 1, 0, 1), power = l.number("power", 1, 0, 1000);
    e.labels.push_back({name, color::LabelRule::Base(base), scale, power});
    labels.out[name] = l.finish();
  }
  root.out["labels"] = labels.finish();

  Object regs = root.child("regularizers");
  for (const std::string& name : regs.keys()) {
    Object r = regs.child(name);
    e.regularizers.push_back(read_regularizer(r, name, k, e.labels));
    regs.out[name] = r.finish();
  }
  root.out["regularizers"] = regs.finish();

  const Json& sheet = root.require("dopesheet");
  if (!sheet.is_array() || sheet.empty() || !std::all_of(sheet.begin(), sheet.end(), [](const Json& l) { return l.is_string(); }))
    root.fail("dopesheet", "expected a file name or a list of CSV lines, got " + shown(sheet));
  for (const Json& line : sheet) e.dopesheet += line.get<std::string>() + "\n";
  root.out["dopesheet"] = sheet;
  schedule::Dopesheet parsed;
  try {
    parsed = schedule::parse_dopesheet(e.dopesheet, source + ": dopesheet");
  } catch (const schedule::DopesheetError& ex) {
    throw ExperimentError(ex.what());
  }
  if (root.get("steps")) e.steps = int(root.integer("steps", std::nullopt, 1, 100000000));
  else root.out["steps"] = nullptr;  // the dopesheet's length
  e.batch = int(root.integer("batch", 64, 2, 65536));
  // Written only when given, so that the experiments without them keep their hashes.
  if (root.get("soft_labels")) e.soft_labels = root.boolean("soft_labels", false);
  if (root.get("epoch")) e.epoch = int(root.integer("epoch", std::nullopt, 1, 100000000));
  if (e.epoch % e.batch == 1)
    root.fail("epoch", "the last batch of each epoch would hold 1 sample (" + std::to_string(e.epoch) + " = " +
                           std::to_string(e.epoch / e.batch) + " x " + std::to_string(e.batch) + " + 1); a batch needs 2");
  const Json* seed = root.get("seed");
  if (seed && !seed->is_number_unsigned() && !(seed->is_number_integer() && seed->get<long long>() >= 0))
    root.fail("seed", "expected an integer >= 0, got " + shown(*seed));
  e.seed = seed ? seed->get<unsigned long long>() : 0;
  root.out["seed"] = e.seed;
  e.snapshot_every = int(root.integer("snapshot_every", 250, 0, 100000000));
  e.log_every = int(root.integer("log_every", 1, 1, 100000000));
  if (const Json* band = root.get("heldout_hues_deg")) {
    if (!band->is_array() || band->size() != 2) root.fail("heldout_hues_deg", "expected [first, last], got " + shown(*band));
    const int first = int(root.check_integer((*band)[0], "heldout_hues_deg[0]", 0, 359));
    e.heldout = color::HueBand{first, int(root.check_integer((*band)[1], "heldout_hues_deg[1]", first, 359))};
    root.out["heldout_hues_deg"] = *band;
  } else {
    root.out["heldout_hues_deg"] = nullptr;
  }
  e.resolved = root.finish();
  check_names(e, parsed, source);
  Json without_seed = e.resolved;
  without_seed.erase("seed");
  e.hash = fnv_hex(without_seed.dump());
  return e;
}


}  // namespace sg::train
