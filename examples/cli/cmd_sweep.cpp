// `spheregrad sweep`: runs seeds x experiments x ablations, one summary row per run, in parallel
// (--jobs, one child process per run) or as one shard of many (--shard K/N); `sweep merge`
// joins the shards' tables, `sweep summarize` prints the grouped crumple rates of a table.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "examples/cli/cli.hpp"
#include "examples/report/figures.hpp"
#include "examples/experiment/sweep.hpp"
#include "examples/report/progress.hpp"

namespace sg::cli {
namespace {

struct Settings {
  sweep::Plan plan{.experiments = {"ex-1.7"}, .overrides = {}, .seeds = {0}};
  ExperimentOverrides overrides;  // into plan.overrides once parsed
  int jobs = 1, threads = 1;
  std::pair<int, int> shard{1, 1};
  bool sharded = false, folders = true, quiet = false, overwrite = false;
  std::string out = "out/sweep", csv;
};

struct MergeSettings {
  std::string out;
  std::vector<std::string> shards;
  int expected = 0;
};

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream ss(text);
  for (std::string part; std::getline(ss, part, sep);) parts.push_back(part);
  if (!text.empty() && text.back() == sep) parts.emplace_back();
  return parts;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open the file (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One run, in this process: its row (an error becomes a row, never a stopped sweep).
std::string run_one(const sweep::RunSpec& run, const Settings& s) {
  train::Options o;
  o.threads = s.threads;
  o.quiet = true;
  o.write_outputs = s.folders;
  o.out = s.out + "/runs/" + sweep::run_name(run);
  o.overwrite = true;  // the sweep owns its run folders
  try {
    o.experiment = sweep::experiment_of(run, s.plan);
    const train::Result r = train::run(o);
    return sweep::csv_row(run, &r, "");
  } catch (const std::exception& e) {
    return sweep::csv_row(run, nullptr, e.what());
  }
}

// The report beside a table: DIR/report.html for DIR/summary.csv, else NAME.html for NAME.csv.
std::string report_path(const std::string& csv) {
  const std::filesystem::path p(csv);
  return (p.parent_path() / (p.stem() == "summary" ? "report.html" : p.stem().string() + ".html")).string();
}

// The sweep's report: per experiment the crumple rate, every metric's distribution, and the
// runs, each linking to its own report.
void write_report(const std::string& path, const std::string& table, const std::vector<sweep::RunSpec>& runs,
                  std::size_t of, const Settings& s) {
  nlohmann::json rows = sweep::table_rows(table);
  const std::filesystem::path from = std::filesystem::path(path).parent_path();
  std::map<int, const sweep::RunSpec*> by_index;
  for (const sweep::RunSpec& r : runs) by_index[r.index] = &r;
  for (nlohmann::json& row : rows) {
    const sweep::RunSpec* run = row["run"].is_number() ? by_index[int(row["run"].get<double>())] : nullptr;
    const std::filesystem::path folder = std::filesystem::path(s.out) / "runs" / (run ? sweep::run_name(*run) : "");
    if (s.folders && run && std::filesystem::exists(folder / "report.html"))
      row["report"] = std::filesystem::relative(folder / "report.html", from.empty() ? "." : from).generic_string();
  }
  const std::vector<std::string> metrics = {
      "recon_mse_validation", "hue_inversions", "hue_inversions_36", "red_cosine", "red_angle_deg", "radius_mean",
      "radius_std", "planarity_vibrant", "hue_resultant", "spacing_min_deg", "spacing_max_deg", "separate_final",
      "final_total", "fold_deg", "gap_deg", "spacing_error_deg"};
  const std::string title = "Sweep: " + std::to_string(runs.size()) + " runs" +
                            (runs.size() < of ? " (a shard of " + std::to_string(of) + ")" : "");
  const nlohmann::json data = {{"kind", "sweep"}, {"title", title},
                               {"description", "table: " + s.csv}, {"metrics", metrics}, {"rows", rows}};
  figures::write_file_atomically(path, figures::report_html(title, data.dump()));
}

// The bar's detail: the last run finished.
std::string last_run(const sweep::RunSpec& run) { return "last: " + sweep::run_name(run); }

// Runs each spec in a child process, at most s.jobs at a time; a child sends its row through
// a pipe. The parent runs no training itself, so forking never copies a busy OpenMP runtime.
std::map<int, std::string> run_children(const std::vector<sweep::RunSpec>& runs, const Settings& s,
                                        figures::Progress& bar) {
  std::map<int, std::string> rows;
  struct Child {
    int fd;
    const sweep::RunSpec* run;
    std::string text;
  };
  std::map<pid_t, Child> children;
  std::size_t next = 0;
  std::fflush(nullptr);
  while (next < runs.size() || !children.empty()) {
    while (next < runs.size() && int(children.size()) < s.jobs) {
      int fds[2];
      if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
      if (pid == 0) {
        close(fds[0]);
        const std::string row = run_one(runs[next], s);
        for (std::size_t off = 0; off < row.size();) {
          const ssize_t n = write(fds[1], row.data() + off, row.size() - off);
          if (n <= 0) _exit(3);
          off += std::size_t(n);
        }
        _exit(0);
      }
      close(fds[1]);
      children[pid] = {fds[0], &runs[next], {}};
      ++next;
    }
    // Read whatever the children have written (a row never fills a pipe, but be safe).
    std::vector<pollfd> polls;
    for (auto& [pid, c] : children) polls.push_back({c.fd, POLLIN, 0});
    if (poll(polls.data(), polls.size(), 200) < 0 && errno != EINTR)
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    for (auto it = children.begin(); it != children.end();) {
      Child& c = it->second;
      char buffer[4096];
      pollfd p{c.fd, POLLIN, 0};
      bool closed = false;
      while (poll(&p, 1, 0) > 0) {
        const ssize_t n = read(c.fd, buffer, sizeof buffer);
        if (n <= 0) {
          closed = true;
          break;
        }
        c.text.append(buffer, std::size_t(n));
      }
      if (!closed) {
        ++it;
        continue;
      }
      int status = 0;
      waitpid(it->first, &status, 0);
      close(c.fd);
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) || c.text.empty() || c.text.back() != '\n') {
        const std::string why = WIFSIGNALED(status) ? "the run's process was killed by signal " +
                                                          std::to_string(WTERMSIG(status))
                                                    : "the run's process failed (exit " +
                                                          std::to_string(WEXITSTATUS(status)) + ")";
        c.text = sweep::csv_row(*c.run, nullptr, why);
      }
      rows[c.run->index] = c.text;
      bar.update(long(rows.size()), last_run(*c.run));
      it = children.erase(it);
    }
  }
  return rows;
}

int merge(const MergeSettings& m) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& path : m.shards) files.push_back({path, read_text(path)});
  figures::write_file_atomically(m.out, sweep::merge_rows(files, m.expected));
  return 0;
}

int sweep(Settings s) {
  s.plan.overrides = s.overrides.get();
  std::vector<sweep::RunSpec> all;
  try {
    all = sweep::expand(s.plan);
  } catch (const train::ExperimentError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(e.what());  // a regularizer on the command line that the experiment lacks
  }
  std::vector<sweep::RunSpec> mine;
  for (const sweep::RunSpec& r : all)
    if (sweep::in_shard(r.index, s.shard)) mine.push_back(r);
  if (s.csv.empty())
    s.csv = s.out + (s.sharded ? "/summary-shard-" + std::to_string(s.shard.first) + "-of-" +
                                     std::to_string(s.shard.second) + ".csv"
                               : "/summary.csv");
  refuse_to_overwrite(s.csv, s.overwrite);  // the run folders belong to the table
  const std::string report = report_path(s.csv);
  refuse_to_overwrite(report, s.overwrite);
  std::filesystem::create_directories(s.out);
  if (!std::filesystem::path(s.csv).parent_path().empty())
    std::filesystem::create_directories(std::filesystem::path(s.csv).parent_path());

  std::map<int, std::string> rows;
  figures::Progress bar("sweep", long(mine.size()), "runs", s.quiet);
  if (s.jobs == 1) {
    for (const sweep::RunSpec& r : mine) {
      rows[r.index] = run_one(r, s);
      bar.update(long(rows.size()), last_run(r));
    }
  } else {
    rows = run_children(mine, s, bar);
  }
  bar.finish();
  std::string table = sweep::csv_header();
  for (const auto& [index, row] : rows) table += row;
  figures::write_file_atomically(s.csv, table);
  write_report(report, table, mine, all.size(), s);
  if (!s.quiet) {
    std::printf("%zu of %zu runs (shard %d/%d) -> %s\n\n", mine.size(), all.size(), s.shard.first, s.shard.second,
                s.csv.c_str());
    std::fputs(sweep::summarize(table).c_str(), stdout);
  }
  int failed = 0;
  for (const auto& [index, row] : rows) failed += row.find(",error,") != std::string::npos;
  if (failed && !s.quiet) std::fprintf(stderr, "spheregrad sweep: %d run(s) stopped with an error (see the table)\n", failed);
  return 0;
}

void add_merge(CLI::App& sweep_command, int& exit_code) {
  auto m = std::make_shared<MergeSettings>();
  CLI::App* command = sweep_command.add_subcommand("merge", "join the shards' tables into the whole sweep's table");
  command->add_option("OUT.csv", m->out, "the merged table")->required();
  command->add_option("SHARD.csv", m->shards, "the shards' tables")->required();
  add_integer(*command, "--expect", m->expected, 1, "require exactly N runs in all");
  command->footer("The rows sorted by run index, each index exactly once: the same bytes as the whole sweep's table.");
  command->callback([m, &exit_code] { exit_code = merge(*m); });
}

void add_summarize(CLI::App& sweep_command, int& exit_code) {
  auto table = std::make_shared<std::string>();
  CLI::App* command = sweep_command.add_subcommand("summarize", "print the grouped crumple rates of a table");
  command->add_option("TABLE.csv", *table, "a sweep's table")->required();
  command->footer("One Markdown line per (experiment, ablation): the crumple rates with 95 % intervals, the mean metrics.");
  command->callback([table, &exit_code] {
    std::fputs(sweep::summarize(read_text(*table)).c_str(), stdout);
    exit_code = 0;
  });
}

}  // namespace

void add_sweep(CLI::App& program, int& exit_code) {
  auto s = std::make_shared<Settings>();
  CLI::App* command =
      program.add_subcommand("sweep", "run seeds x experiments x ablations into one table (parallel, sharded)");
  add_converted(*command, "--experiments", [s](const std::string& v) { s->plan.experiments = split(v, ','); },
                "comma-separated built-in experiments or .json files (default ex-1.7;\nbuilt-in: " +
                    known_experiments() + ")")
      ->type_name("LIST");
  add_converted(*command, "--presets", [s](const std::string& v) { s->plan.experiments = split(v, ','); },
                "the same as --experiments")
      ->type_name("LIST");
  s->overrides.add_to(*command, false);
  add_converted(*command, "--seeds", [s](const std::string& v) { s->plan.seeds = sweep::parse_seeds(v); },
                "seeds and ranges, e.g. 0-99 or 0,5,10-19 (default 0)")
      ->type_name("LIST");
  add_converted(*command, "--ablations", [s](const std::string& v) { s->plan.ablations = split(v, ';'); },
                "';'-separated sets of regularizers to drop, each 'a+b' or 'none';\n"
                "or 'subsets': every non-empty subset of the experiment's regularizers\n"
                "(default none)")
      ->type_name("LIST");
  add_integer(*command, "--jobs", s->jobs, 1, "run N runs at a time, each in its own process (default 1)", kMaxThreads);
  add_converted(*command, "--shard", [s](const std::string& v) { s->shard = sweep::parse_shard(v), s->sharded = true; },
                "run only the K-th of N shards (runs with index % N == K-1)")
      ->type_name("K/N");
  add_integer(*command, "--threads", s->threads, 1, "OpenMP threads per run (default 1)", kMaxThreads);
  command->add_option("--out", s->out, "sweep folder (default out/sweep): DIR/runs/<run>/ and the table")
      ->type_name("DIR");
  command->add_option("--csv", s->csv, "the table (default DIR/summary.csv, or DIR/summary-shard-K-of-N.csv)")
      ->type_name("FILE");
  add_converted(
      *command, "--folders",
      [s](const std::string& v) {
        if (v != "full" && v != "none") throw std::invalid_argument("--folders expects full or none, got '" + v + "'");
        s->folders = v == "full";
      },
      "write each run's folder (default full) or the table only")
      ->type_name("full|none");
  command->add_flag("--quiet", s->quiet, "no progress and no summary on stdout");
  command->add_flag("--overwrite", s->overwrite, "replace an earlier sweep's table and run folders (refused otherwise)");
  add_merge(*command, exit_code);
  add_summarize(*command, exit_code);
  command->footer(
      "Trains every combination of experiments, ablations and seeds and writes one row of final\n"
      "metrics per run to a CSV table (no timings in it: the same sweep gives the same bytes),\n"
      "plus each run's folder. Runs are numbered experiment-major, then ablation, then seed.\n"
      "--set and the other experiment options apply to every experiment of the sweep.\n"
      "\n"
      "Merging the shards' tables gives the whole sweep's table, byte for byte:\n"
      "  parallel build/spheregrad sweep --seeds 0-99 --shard {}/4 --out out/s ::: 1 2 3 4\n"
      "  build/spheregrad sweep merge out/s/summary.csv out/s/summary-shard-*-of-4.csv\n"
      "docs/sweeps.md shows the same with a Slurm job array.");
  // Runs after merge's or summarize's callback when one of them was chosen.
  command->callback([command, s, &exit_code] {
    if (command->get_subcommands().empty()) exit_code = sweep(*s);
  });
}

}  // namespace sg::cli
