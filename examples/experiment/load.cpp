// examples/experiment/load.cpp -- where experiments come from: the built-in files, experiment
// files with their dopesheets, --set and --without, and whether the result is stock.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "examples/experiment/experiment.hpp"
#include "examples/experiment/json_reader.hpp"
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

// A whole file of at most schedule::kMaxFileBytes (experiments and dopesheets are a few KB), so
// that a wrong path -- a device, a huge log -- is an error and not an endless read.
std::string read_small_file(const fs::path& path, const std::string& prefix, const std::string& noun) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ExperimentError(prefix + "cannot read " + noun + "'" + path.string() + "'");
  std::string text;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, std::size_t(in.gcount()));
    if (text.size() > schedule::kMaxFileBytes)
      throw ExperimentError(prefix + noun + "'" + path.string() + "' is larger than " +
                            std::to_string(schedule::kMaxFileBytes >> 20) + " MiB");
  }
  return text;
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
    text = read_small_file(path, source + ": dopesheet: ", "");
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

}  // namespace


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

Experiment parse_experiment(const std::string& text, const std::string& source) {
  Json j = parse_json(text, source);
  if (j.is_object() && j.contains("dopesheet") && j["dopesheet"].is_string())
    throw ExperimentError(source + ": dopesheet: a stored experiment holds its dopesheet's lines, not a file name ('" +
                          j["dopesheet"].get<std::string>().substr(0, 60) + "')");
  Experiment e = read_experiment(j, source);
  set_stock(e);
  return e;
}

Experiment load_stored_experiment(const std::string& path) { return parse_experiment(read_small_file(path, "", "experiment file "), path); }

Experiment load_experiment(const std::string& what, const Overrides& overrides) {
  const bool builtin = !is_path(what);
  std::string text, source = what;
  if (builtin) {
    text = builtin_text(what);
    source = what + " (built-in)";
  } else {
    text = read_small_file(what, "", "experiment file ");
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
