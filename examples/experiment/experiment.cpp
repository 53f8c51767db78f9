// examples/experiment/experiment.cpp -- reading, checking and resolving experiment files.
#include "examples/experiment/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "schedule/dopesheet.hpp"

namespace sg::train {

// The files of examples/experiments/, compiled in (the Makefile generates the definition).
struct EmbeddedFile {
  const char* name;
  const char* text;
};
const std::vector<EmbeddedFile>& embedded_experiment_files();

namespace {

namespace fs = std::filesystem;

std::string shown(const Json& j) {
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// One JSON object being read. Each accessor takes a key (or its default when the key is absent
// or null), checks it and writes the value to `out`, the resolved object, in the order read;
// finish() rejects the keys nothing read. Errors name the source and the JSON path.
class Object {
 public:
  Object(const std::string& source, const Json& j, std::string path) : source_(source), j_(j), path_(std::move(path)) {
    if (!j.is_object()) fail(path_, "expected an object, got " + shown(j));
  }

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw ExperimentError(source_ + ": " + (path.empty() ? "" : path + ": ") + what);
  }
  std::string at(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const std::string& path() const { return path_; }
  const std::string& source() const { return source_; }

  // The value of `key`, or nullptr when it is absent or null; marks it read.
  const Json* get(const std::string& key) {
    read_.insert(key);
    const auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  const Json& require(const std::string& key) {
    const Json* v = get(key);
    if (!v) fail(at(key), "missing (required)");
    return *v;
  }

  double number(const std::string& key, std::optional<double> def, double lo, double hi) {
    const Json* v = get(key);
    if (!v && !def) fail(at(key), "missing (required)");
    const double x = v ? check_number(*v, at(key), lo, hi) : *def;
    out[key] = x;
    return x;
  }
  long integer(const std::string& key, std::optional<long> def, long lo, long hi) {
    const Json* v = get(key);
    if (!v && !def) fail(at(key), "missing (required)");
    const long x = v ? check_integer(*v, at(key), lo, hi) : *def;
    out[key] = x;
    return x;
  }
  bool boolean(const std::string& key, bool def) {
    const Json* v = get(key);
    if (v && !v->is_boolean()) fail(at(key), "expected true or false, got " + shown(*v));
    const bool x = v ? v->get<bool>() : def;
    out[key] = x;
    return x;
  }
  std::string string(const std::string& key, std::optional<std::string> def) {
    const Json* v = get(key);
    if (!v && !def) fail(at(key), "missing (required)");
    if (v && !v->is_string()) fail(at(key), "expected a string, got " + shown(*v));
    const std::string x = v ? v->get<std::string>() : *def;
    out[key] = x;
    return x;
  }
  // One of `choices`; returns its index.
  int choice(const std::string& key, std::optional<std::string> def, const std::vector<std::string>& choices) {
    const Json* v = get(key);
    const std::string x = string(key, def);
    const auto it = std::find(choices.begin(), choices.end(), x);
    if (it == choices.end()) fail(at(key), "expected one of " + join(choices) + ", got " + shown(v ? *v : Json(x)));
    return int(it - choices.begin());
  }
  Object child(const std::string& key, bool required = false) {
    const Json* v = get(key);
    if (!v && required) fail(at(key), "missing (required)");
    return Object(source_, v ? *v : empty_, at(key));
  }
  // Every key of this object, in file order (for the objects keyed by name).
  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    for (const auto& [key, value] : j_.items()) k.push_back(key);
    return k;
  }

  Json finish() const {
    std::vector<std::string> known(read_.begin(), read_.end());
    for (const auto& [key, value] : j_.items())
      if (!read_.count(key)) fail(at(key), "unknown key" + (known.empty() ? std::string() : " (known here: " + join(known) + ")"));
    return out;
  }

  double check_number(const Json& v, const std::string& path, double lo, double hi) const {
    if (!v.is_number()) fail(path, "expected a number in " + range(lo, hi) + ", got " + shown(v));
    const double x = v.get<double>();
    if (!(x >= lo && x <= hi)) fail(path, "expected a number in " + range(lo, hi) + ", got " + shown(v));
    return x;
  }
  long check_integer(const Json& v, const std::string& path, long lo, long hi) const {
    const bool integral = v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    if (!integral || v.get<double>() < double(lo) || v.get<double>() > double(hi))
      fail(path, "expected an integer in " + range(double(lo), double(hi)) + ", got " + shown(v));
    return long(v.get<double>());
  }

  Json out = Json::object();

 private:
  static std::string range(double lo, double hi) {
    char buf[80];
    std::snprintf(buf, sizeof buf, "[%.10g, %.10g]", lo, hi);
    return buf;
  }
  static inline const Json empty_ = Json::object();
  const std::string& source_;
  const Json& j_;
  std::string path_;
  std::set<std::string> read_;
};

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
                                         "drift-anchor", "uniformity"};

Regularizer read_regularizer(Object& o, const std::string& name, int k, const std::vector<color::LabelRule>& labels) {
  Regularizer r;
  r.name = name;
  r.kind = TermKind(o.choice("term", std::nullopt, kTerms));
  r.enabled = o.boolean("enabled", true);
  Object a = o.child("affinities");
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

const EmbeddedFile* embedded(const std::string& file) {
  for (const EmbeddedFile& f : embedded_experiment_files())
    if (file == f.name) return &f;
  return nullptr;
}

// A dopesheet given as a file name becomes its lines: from `dir`, or for a built-in from the
// embedded files.
void inline_dopesheet(Json& j, const std::string& source, const std::string& dir, bool builtin) {
  if (!j.is_object() || !j.contains("dopesheet") || !j["dopesheet"].is_string()) return;
  const std::string file = j["dopesheet"];
  std::string text;
  if (builtin) {
    const EmbeddedFile* f = embedded(file);
    if (!f) throw ExperimentError(source + ": dopesheet: no built-in file '" + file + "'");
    text = f->text;
  } else {
    const fs::path path = fs::path(file).is_absolute() ? fs::path(file) : fs::path(dir) / file;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ExperimentError(source + ": dopesheet: cannot read '" + path.string() + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    try {  // a file's own errors name the file, line and column
      schedule::parse_dopesheet(text, path.string());
    } catch (const schedule::DopesheetError& e) {
      throw ExperimentError(source + ": dopesheet: " + e.what());
    }
  }
  Json lines = Json::array();
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  j["dopesheet"] = lines;
}

// "a.b.c=value": the value parsed as JSON, or else taken as a string; null removes the key.
void apply_set(Json& j, const std::string& assignment) {
  const std::size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ExperimentError("--set " + assignment + ": expected key.path=value");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Json value = Json::parse(text, nullptr, false);
  if (value.is_discarded()) value = text;
  Json* node = &j;
  std::stringstream ss(path);
  std::vector<std::string> keys;
  for (std::string key; std::getline(ss, key, '.');) keys.push_back(key);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].empty()) throw ExperimentError("--set " + assignment + ": empty key in '" + path + "'");
    if (node->is_null()) *node = Json::object();
    if (!node->is_object())
      throw ExperimentError("--set " + assignment + ": '" + keys[i] + "' is inside a value that is not an object");
    if (i + 1 == keys.size()) {
      if (value.is_null()) node->erase(keys[i]);
      else (*node)[keys[i]] = value;
    } else {
      node = &(*node)[keys[i]];
    }
  }
}

bool is_path(const std::string& what) {
  return what.find('/') != std::string::npos || (what.size() > 5 && what.substr(what.size() - 5) == ".json");
}

Json parse_json(const std::string& text, const std::string& source) {
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number beyond double
    std::string what = e.what();
    const std::size_t colon = what.find(": ");  // drop nlohmann's "[json.exception.parse_error.101] "
    throw ExperimentError(source + ": not valid JSON: " + (colon == std::string::npos ? what : what.substr(colon + 2)));
  }
}

// Stock: equal to the built-in of the same name, seed aside.
void set_stock(Experiment& e) {
  const std::vector<std::string> names = builtin_names();
  e.stock = std::find(names.begin(), names.end(), e.name) != names.end() && load_experiment(e.name).hash == e.hash;
}

std::string one_line(const Json& j) {
  if (!j.is_structured()) return j.dump();
  std::string s = j.is_object() ? "{" : "[";
  bool first = true;
  for (const auto& [key, value] : j.items()) {
    s += first ? "" : ", ";
    first = false;
    if (j.is_object()) s += Json(key).dump() + ": ";
    s += one_line(value);
  }
  return s + (j.is_object() ? "}" : "]");
}

// One line where it fits in 100 columns, else one value a line.
void format(const Json& j, std::string& out, int indent, int used) {
  const std::string flat = one_line(j);
  if (!j.is_structured() || j.empty() || indent + used + int(flat.size()) <= 100) {
    out += flat;
    return;
  }
  const std::string pad(indent + 2, ' ');
  out += j.is_object() ? "{\n" : "[\n";
  bool first = true;
  for (const auto& [key, value] : j.items()) {
    out += (first ? "" : ",\n") + pad;
    first = false;
    const std::string k = j.is_object() ? Json(key).dump() + ": " : "";
    out += k;
    format(value, out, indent + 2, int(k.size()));
  }
  out += "\n" + std::string(indent, ' ') + (j.is_object() ? "}" : "]");
}

}  // namespace

std::string to_text(const Json& j) {
  std::string out;
  format(j, out, 0, 0);
  return out + "\n";
}

const Regularizer* Experiment::regularizer(const std::string& n) const {
  for (const Regularizer& r : regularizers)
    if (r.name == n) return &r;
  return nullptr;
}

std::vector<std::string> builtin_names() {
  std::vector<std::string> names;
  for (const EmbeddedFile& f : embedded_experiment_files()) {
    const std::string file = f.name;
    if (file.size() > 5 && file.substr(file.size() - 5) == ".json") names.push_back(file.substr(0, file.size() - 5));
  }
  std::sort(names.begin(), names.end());  // "ex-1.5" before "ex-1.5-angular"
  return names;
}

std::string builtin_text(const std::string& name) {
  const EmbeddedFile* f = embedded(name + ".json");
  if (!f) throw ExperimentError("unknown experiment '" + name + "' (built-in: " + join(builtin_names()) + "; or give a .json file)");
  return f->text;
}

Experiment parse_experiment(const std::string& text, const std::string& source, const std::string& dir) {
  Json j = parse_json(text, source);
  inline_dopesheet(j, source, dir, false);
  Experiment e = read_experiment(j, source);
  set_stock(e);
  return e;
}

Experiment load_experiment(const std::string& what, const Overrides& overrides) {
  const bool builtin = !is_path(what);
  std::string text, source = what;
  if (builtin) {
    text = builtin_text(what);
    source = what + " (built-in)";
  } else {
    std::ifstream in(what, std::ios::binary);
    if (!in) throw ExperimentError("cannot read experiment file '" + what + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  Json j = parse_json(text, source);
  inline_dopesheet(j, source, builtin ? "" : fs::path(what).parent_path().string(), builtin);
  for (const std::string& s : overrides.set) apply_set(j, s);
  inline_dopesheet(j, source, ".", false);  // a dopesheet given by --set is relative to here
  for (const std::string& name : overrides.without) {
    if (!j.is_object() || !j.contains("regularizers") || !j["regularizers"].is_object() || !j["regularizers"].contains(name))
      throw ExperimentError("--without " + name + ": experiment " + source + " has no regularizer of that name");
    j["regularizers"][name]["enabled"] = false;
  }
  if (!overrides.set.empty() || !overrides.without.empty()) source += " with overrides";
  Experiment e = read_experiment(j, source);
  if (builtin && overrides.set.empty() && overrides.without.empty()) e.stock = true;
  else set_stock(e);
  return e;
}

}  // namespace sg::train
