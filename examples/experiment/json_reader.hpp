// examples/experiment/json_reader.hpp -- reading a JSON document against a schema written as
// code: every value checked, every default written out, every unknown key an error, and each
// error naming the source and the JSON path. Experiment files are read with it.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "examples/experiment/experiment.hpp"

namespace sg::train {

// A value as a message shows it: its JSON text, cut at 60 characters.
std::string shown(const Json& j);
// "a, b, c".
std::string join(const std::vector<std::string>& v);

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
    // 10 rather than 10.0: whole numbers read back as the same double either way.
    if (x == std::floor(x) && std::abs(x) < 9007199254740992.0) out[key] = (long long)x;
    else out[key] = x;
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

}  // namespace sg::train
