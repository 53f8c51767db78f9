// examples/experiment/sweep.cpp -- run lists, shards, the summary table and its merge.
#include "examples/experiment/sweep.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>

#include "examples/report/svg.hpp"

namespace sg::sweep {

namespace {

using figures::append;

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = text.find(sep, begin);
    parts.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

unsigned long long parse_unsigned(const std::string& text, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || errno || *end)
    throw std::invalid_argument("expected a non-negative integer in " + what + ", got '" + text + "'");
  return v;
}


// A number as %.9g (enough to read a float back), or an empty cell for NaN.
void number(std::string& out, double v) {
  out += ',';
  if (std::isfinite(v)) append(out, "%.9g", v);
}

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n' || c == '\r') c = ' ';
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

// The fields of one CSV line (quotes as written by quoted()).
std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool in_quotes = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
      else if (c == '"') in_quotes = false;
      else out.back() += c;
    } else if (c == '"') {
      in_quotes = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

}  // namespace

std::vector<RunSpec> expand(const Plan& plan) {
  if (plan.experiments.empty()) throw std::invalid_argument("a sweep needs at least one experiment");
  if (plan.seeds.empty()) throw std::invalid_argument("a sweep needs at least one seed");
  if (plan.ablations.empty()) throw std::invalid_argument("a sweep needs at least one ablation (\"\" for none)");
  std::vector<RunSpec> runs;
  std::string identity;  // what makes this sweep this sweep: experiments, seeds, ablations
  for (const std::string& name : plan.experiments) {
    const train::Experiment experiment = train::load_experiment(name, plan.overrides);
    identity += experiment.label() + ";";
    std::vector<std::string> regs;
    for (const train::Regularizer& r : experiment.regularizers) regs.push_back(r.name);
    std::vector<std::vector<std::string>> ablations;
    for (const std::string& a : plan.ablations) {
      if (a == "subsets") {
        // Every non-empty kept subset, the full set first: mask bit i keeps regularizer i.
        if (regs.empty() || regs.size() > 16)
          throw std::invalid_argument("--ablations subsets: experiment " + name + " has " + std::to_string(regs.size()) +
                                      " regularizers (1 to 16 needed)");
        for (unsigned mask = (1u << regs.size()) - 1; mask >= 1; --mask) {
          std::vector<std::string> drop;
          for (std::size_t i = 0; i < regs.size(); ++i)
            if (!(mask >> i & 1u)) drop.push_back(regs[i]);
          ablations.push_back(drop);
        }
        continue;
      }
      std::vector<std::string> drop;
      if (!a.empty() && a != "none")
        for (const std::string& r : split(a, '+')) {
          if (std::find(regs.begin(), regs.end(), r) == regs.end())
            throw std::invalid_argument("ablation '" + a + "': experiment " + name + " has no regularizer '" + r + "'");
          drop.push_back(r);
        }
      // Listed in the experiment's order, so that "a+b" and "b+a" name one run.
      std::vector<std::string> ordered;
      for (const std::string& r : regs)
        if (std::find(drop.begin(), drop.end(), r) != drop.end()) ordered.push_back(r);
      ablations.push_back(ordered);
    }
    for (const auto& drop : ablations)
      for (unsigned long long seed : plan.seeds) runs.push_back({int(runs.size()), "", name, experiment.label(), seed, drop});
  }
  for (unsigned long long seed : plan.seeds) identity += std::to_string(seed) + ",";
  for (const std::string& a : plan.ablations) identity += ";" + a;
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char ch : identity) h = (h ^ ch) * 1099511628211ull;
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", (unsigned long long)h);
  for (RunSpec& r : runs) r.sweep = std::string(id, 8);
  return runs;
}

std::vector<unsigned long long> parse_seeds(const std::string& text) {
  std::vector<unsigned long long> seeds;
  std::set<unsigned long long> seen;
  for (const std::string& part : split(text, ',')) {
    const std::size_t dash = part.find('-', 1);
    const unsigned long long lo = parse_unsigned(part.substr(0, dash), "--seeds");
    const unsigned long long hi = dash == std::string::npos ? lo : parse_unsigned(part.substr(dash + 1), "--seeds");
    if (hi < lo) throw std::invalid_argument("--seeds: empty range '" + part + "'");
    if (hi - lo >= 1000000) throw std::invalid_argument("--seeds: range '" + part + "' is too long");
    for (unsigned long long s = lo;; ++s) {  // up to hi inclusive, without wrapping past the largest seed
      if (!seen.insert(s).second) throw std::invalid_argument("--seeds: seed " + std::to_string(s) + " twice");
      seeds.push_back(s);
      if (s == hi) break;
    }
  }
  return seeds;
}

std::pair<int, int> parse_shard(const std::string& text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) throw std::invalid_argument("--shard expects K/N, got '" + text + "'");
  const unsigned long long k = parse_unsigned(text.substr(0, slash), "--shard");
  const unsigned long long n = parse_unsigned(text.substr(slash + 1), "--shard");
  if (n < 1 || k < 1 || k > n || n > 1000000)
    throw std::invalid_argument("--shard expects K/N with 1 <= K <= N, got '" + text + "'");
  return {int(k), int(n)};
}

bool in_shard(int index, std::pair<int, int> shard) { return index % shard.second == shard.first - 1; }

train::Experiment experiment_of(const RunSpec& run, const Plan& plan) {
  train::Overrides o = plan.overrides;
  o.set.push_back("seed=" + std::to_string(run.seed));
  o.without.insert(o.without.end(), run.without.begin(), run.without.end());
  return train::load_experiment(run.experiment, o);
}

std::string run_name(const RunSpec& run) {
  std::string name = run.label;
  if (!run.without.empty()) name += "-without-" + join(run.without, "+");
  return name + "-seed" + std::to_string(run.seed);
}

std::string csv_header() {
  return "run,sweep,experiment,seed,without,status,steps,final_total,final_recon,recon_mse_validation,"
         "hue_inversions,hue_winding,crumpled,hue_inversions_36,hue_winding_36,crumpled_36,"
         "red_cosine,red_angle_deg,radius_mean,radius_std,planarity_vibrant,hue_resultant,"
         "spacing_min_deg,spacing_max_deg,separate_final,dome_height,dome_consistency,train_hue_inversions,"
         "train_hue_winding,train_gap_deg,fold_deg,gap_deg,spacing_error_deg,visible_fold,error\n";
}

std::string csv_row(const RunSpec& run, const train::Result* r, const std::string& error) {
  std::string row = std::to_string(run.index) + "," + run.sweep + "," + run.label + "," + std::to_string(run.seed) + "," +
                    join(run.without, "+") + "," + (r ? "ok" : "error");
  if (!r) return row + std::string(29, ',') + quoted(error) + "\n";  // 28 empty metrics, then the message
  const color::FinalMetrics& m = r->metrics;
  const bool crumpled_36 = m.hue_inversions_36 > 0 || std::abs(m.hue_winding_36) != 1;
  double lo = INFINITY, hi = 0;
  for (double d : m.spacing_deg) lo = std::min(lo, std::abs(d)), hi = std::max(hi, std::abs(d));
  auto integer = [&row](long v) {
    row += ',';
    row += std::to_string(v);
  };
  integer(r->steps);
  number(row, r->final_total);
  number(row, r->final_recon);
  number(row, m.recon_mse_validation);
  for (long v : {long(m.hue_inversions), long(m.hue_winding), long(m.crumpled), long(m.hue_inversions_36),
                 long(m.hue_winding_36), long(crumpled_36)})
    integer(v);
  for (double v : {m.red_cosine, m.red_angle_deg, m.radius_mean, m.radius_std, m.planarity_vibrant, m.hue_resultant,
                   lo, hi, m.separate_final, m.dome_height, m.dome_consistency})
    number(row, v);
  integer(m.train_hue_inversions);
  integer(m.train_hue_winding);
  number(row, m.train_gap_deg);
  number(row, m.fold_deg);
  number(row, m.gap_deg);
  number(row, m.spacing_error_deg);
  integer(m.visible_fold());
  return row + ",\n";
}

std::string merge_rows(const std::vector<std::pair<std::string, std::string>>& files, int expected) {
  const std::string header = csv_header();
  std::map<long, std::string> rows;
  std::string first_sweep, first_file;
  for (const auto& [name, text] : files) {
    if (text.compare(0, header.size(), header) != 0)
      throw std::runtime_error(name + ": not a sweep table of this version (its header differs)");
    std::size_t begin = header.size();
    int line = 1;
    while (begin < text.size()) {
      ++line;
      std::size_t end = text.find('\n', begin);
      if (end == std::string::npos) throw std::runtime_error(name + ":" + std::to_string(line) + ": incomplete last line");
      const std::string row = text.substr(begin, end - begin + 1);
      begin = end + 1;
      char* stop = nullptr;
      const long index = std::strtol(row.c_str(), &stop, 10);
      if (stop == row.c_str() || *stop != ',' || index < 0)
        throw std::runtime_error(name + ":" + std::to_string(line) + ": expected a run index, got \"" +
                                 row.substr(0, std::min<std::size_t>(row.size() - 1, 40)) + "\"");
      const std::string sweep = row.substr(std::size_t(stop - row.c_str()) + 1, 8);
      if (first_sweep.empty()) first_sweep = sweep, first_file = name;
      if (sweep != first_sweep)
        throw std::runtime_error(name + ":" + std::to_string(line) + ": run " + std::to_string(index) + " is from sweep " +
                                 sweep + ", " + first_file + " from sweep " + first_sweep +
                                 " (shards of different sweeps: other experiments, seeds or ablations)");
      if (!rows.emplace(index, row).second)
        throw std::runtime_error(name + ":" + std::to_string(line) + ": run " + std::to_string(index) +
                                 " appears twice (overlapping shards?)");
    }
  }
  std::string missing;
  long count = 0;
  const long total = expected > 0 ? expected : (rows.empty() ? 0 : rows.rbegin()->first + 1);
  for (long i = 0; i < total; ++i)
    if (!rows.count(i) && ++count <= 10) {
      if (!missing.empty()) missing += ", ";
      missing += std::to_string(i);
    }
  if (count > 0)
    throw std::runtime_error(std::to_string(count) + " run(s) missing (" + missing + (count > 10 ? ", ..." : "") +
                             "): a shard was not run or not given");
  if (expected > 0 && long(rows.size()) != expected)
    throw std::runtime_error("expected " + std::to_string(expected) + " runs, got " + std::to_string(rows.size()));
  std::string out = header;
  for (const auto& [index, row] : rows) out += row;
  return out;
}

std::pair<double, double> wilson(int k, int n) {
  if (n <= 0) return {0, 1};
  const double z = 1.959963984540054, p = double(k) / n, z2n = z * z / n;
  const double center = (p + z2n / 2) / (1 + z2n);
  const double half = z * std::sqrt(p * (1 - p) / n + z2n / (4.0 * n)) / (1 + z2n);
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

nlohmann::json table_rows(const std::string& csv) {
  const std::vector<std::string> lines = split(csv, '\n');
  if (lines.empty() || lines[0] + "\n" != csv_header()) throw std::runtime_error("not a sweep table of this version");
  const std::vector<std::string> names = fields(lines[0]);
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t l = 1; l < lines.size(); ++l) {
    if (lines[l].empty()) continue;
    const std::vector<std::string> f = fields(lines[l]);
    nlohmann::json row = nlohmann::json::object();
    for (std::size_t c = 0; c < names.size() && c < f.size(); ++c) {
      char* end = nullptr;
      const double v = f[c].empty() ? 0 : std::strtod(f[c].c_str(), &end);
      if (f[c].empty()) row[names[c]] = nullptr;
      else if (end && *end == 0 && std::isfinite(v) && names[c] != "sweep" && std::abs(v) < 9007199254740992.0)
        row[names[c]] = v;  // (a seed past 2^53 stays text: a double would round it)
      else row[names[c]] = f[c];
    }
    rows.push_back(row);
  }
  return rows;
}

std::string summarize(const std::string& csv) {
  std::vector<std::string> lines = split(csv, '\n');
  if (lines.empty() || lines[0] + "\n" != csv_header()) throw std::runtime_error("not a sweep table of this version");
  const std::vector<std::string> names = fields(lines[0]);
  auto column = [&](const char* name) {
    return int(std::find(names.begin(), names.end(), name) - names.begin());
  };
  struct Group {
    Group(std::string e, std::string w) : experiment(std::move(e)), without(std::move(w)) {}
    std::string experiment, without;
    int n = 0, ok = 0, crumpled = 0, crumpled_36 = 0, visible = 0;
    std::map<std::string, std::pair<double, int>> sums;
  };
  const char* averaged[] = {"recon_mse_validation", "red_cosine", "radius_mean", "planarity_vibrant", "hue_resultant",
                            "fold_deg"};
  std::vector<Group> groups;
  for (std::size_t l = 1; l < lines.size(); ++l) {
    if (lines[l].empty()) continue;
    const std::vector<std::string> f = fields(lines[l]);
    if (f.size() != names.size()) throw std::runtime_error("line " + std::to_string(l + 1) + ": wrong number of fields");
    const std::string experiment = f[column("experiment")], without = f[column("without")];
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group& g) { return g.experiment == experiment && g.without == without; });
    if (it == groups.end()) it = groups.insert(groups.end(), Group(experiment, without));
    ++it->n;
    if (f[column("status")] != "ok") continue;
    ++it->ok;
    it->crumpled += f[column("crumpled")] == "1";
    it->crumpled_36 += f[column("crumpled_36")] == "1";
    it->visible += f[column("visible_fold")] == "1";
    for (const char* a : averaged)
      if (!f[column(a)].empty()) it->sums[a].first += std::atof(f[column(a)].c_str()), ++it->sums[a].second;
  }
  std::string out =
      "| experiment | without | runs | ok | crumpled (360 hues) [95% CI] | crumpled (36 hues) [95% CI] | "
      "visible fold (>= 10 deg) [95% CI] | recon MSE | red cos | radius | planarity | hue resultant | mean largest fold "
      "(deg) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const Group& g : groups) {
    out += "| " + g.experiment + " | " + (g.without.empty() ? "-" : g.without) + " | " + std::to_string(g.n) + " | " +
           std::to_string(g.ok);
    for (int k : {g.crumpled, g.crumpled_36, g.visible}) {
      const auto [lo, hi] = wilson(k, g.ok);
      append(out, " | %d (%.1f %%) [%.1f, %.1f]", k, g.ok ? 100.0 * k / g.ok : 0.0, 100 * lo, 100 * hi);
    }
    for (const char* a : averaged) {
      const auto it = g.sums.find(a);
      if (it == g.sums.end() || it->second.second == 0) out += " | -";
      else append(out, " | %.3g", it->second.first / it->second.second);
    }
    out += " |\n";
  }
  return out;
}

}  // namespace sg::sweep
