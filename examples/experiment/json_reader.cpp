// examples/experiment/json_reader.cpp -- the small helpers of json_reader.hpp, and JSON written as
// a person writes it.
#include "examples/experiment/json_reader.hpp"

namespace sg::train {
namespace {

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
    if (!first) out += ",\n";
    out += pad;
    first = false;
    const std::string k = j.is_object() ? Json(key).dump() + ": " : "";
    out += k;
    format(value, out, indent + 2, int(k.size()));
  }
  out += '\n';
  out.append(std::size_t(indent), ' ');
  out += j.is_object() ? '}' : ']';
}

}  // namespace

std::string shown(const Json& j) {
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string to_text(const Json& j) {
  std::string out;
  format(j, out, 0, 0);
  return out + "\n";
}

}  // namespace sg::train
