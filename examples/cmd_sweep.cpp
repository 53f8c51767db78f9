// `spheregrad sweep`: runs seeds x presets x ablations, one summary row per run, in parallel
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
#include <sstream>
#include <stdexcept>
#include <string>

#include "examples/cli.hpp"
#include "examples/cmd_schedule.hpp"
#include "examples/sweep.hpp"

namespace sg::cli {
namespace {

const char* const kHelp =
    "usage: spheregrad sweep [options]\n"
    "       spheregrad sweep merge OUT.csv SHARD.csv... [--expect N]\n"
    "       spheregrad sweep summarize TABLE.csv\n"
    "\n"
    "Trains every combination of presets, ablations and seeds and writes one row of final\n"
    "metrics per run to a CSV table (no timings in it: the same sweep gives the same bytes),\n"
    "plus each run's folder. Runs are numbered preset-major, then ablation, then seed.\n"
    "\n"
    "options:\n"
    "  --presets LIST      comma-separated presets (default ex-1.7; known: %s)\n"
    "  --seeds LIST        seeds and ranges, e.g. 0-99 or 0,5,10-19 (default 0)\n"
    "  --ablations LIST    ';'-separated sets of regularizers to drop, each 'a+b' or 'none';\n"
    "                      or 'subsets': every non-empty subset of the preset's regularizers\n"
    "                      (default none)\n"
    "  --steps N           train N steps instead of each dopesheet's length\n"
    "  --jobs N            run N runs at a time, each in its own process (default 1)\n"
    "  --shard K/N         run only the K-th of N shards (runs with index %% N == K-1)\n"
    "  --threads N         OpenMP threads per run (default 1)\n"
    "  --out DIR           sweep folder (default out/sweep): DIR/runs/<run>/ and the table\n"
    "  --csv FILE          the table (default DIR/summary.csv, or DIR/summary-shard-K-of-N.csv)\n"
    "  --folders full|none write each run's folder (default full) or the table only\n"
    "  --quiet             no progress and no summary on stdout\n"
    "\n"
    "Merging the shards' tables gives the whole sweep's table, byte for byte:\n"
    "  parallel build/spheregrad sweep --seeds 0-99 --shard {}/4 --out out/s ::: 1 2 3 4\n"
    "  build/spheregrad sweep merge out/s/summary.csv out/s/summary-shard-*-of-4.csv\n"
    "docs/sweeps.md shows the same with a Slurm job array.\n";

struct Settings {
  sweep::Plan plan;
  int steps = -1, jobs = 1, threads = 1;
  std::pair<int, int> shard{1, 1};
  bool sharded = false, folders = true, quiet = false;
  std::string out = "out/sweep", csv;
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
    train::Overrides overrides{{"seed=" + std::to_string(run.seed)}, run.without};
    if (s.steps > 0) overrides.set.push_back("steps=" + std::to_string(s.steps));
    o.experiment = train::load_experiment(run.preset, overrides);
    const train::Result r = train::run(o);
    return sweep::csv_row(run, &r, "");
  } catch (const std::exception& e) {
    return sweep::csv_row(run, nullptr, e.what());
  }
}

void progress(const Settings& s, std::size_t done, std::size_t total, const sweep::RunSpec& run) {
  if (s.quiet || !isatty(fileno(stderr))) return;
  std::fprintf(stderr, "\r  %zu/%zu runs  (last: %s)%*s", done, total, sweep::run_name(run).c_str(), 10, "");
  if (done == total) std::fprintf(stderr, "\n");
}

// Runs each spec in a child process, at most s.jobs at a time; a child sends its row through
// a pipe. The parent runs no training itself, so forking never copies a busy OpenMP runtime.
std::map<int, std::string> run_children(const std::vector<sweep::RunSpec>& runs, const Settings& s) {
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
      progress(s, rows.size(), runs.size(), *c.run);
      it = children.erase(it);
    }
  }
  return rows;
}

int merge(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "spheregrad sweep merge: usage: spheregrad sweep merge OUT.csv SHARD.csv... [--expect N]\n");
    return 2;
  }
  int expected = 0;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--expect") && i + 1 < argc) {
      expected = int(parse_integer("--expect", argv[++i], 1));
      continue;
    }
    files.push_back({argv[i], read_text(argv[i])});
  }
  if (files.empty()) {
    std::fprintf(stderr, "spheregrad sweep merge: no shard tables given\n");
    return 2;
  }
  write_file_atomically(argv[1], sweep::merge_rows(files, expected));
  return 0;
}

}  // namespace

int sweep(int argc, char** argv) {
  if (argc >= 2 && !std::strcmp(argv[1], "merge")) return merge(argc - 1, argv + 1);
  if (argc >= 2 && !std::strcmp(argv[1], "summarize")) {
    if (argc != 3) {
      std::fprintf(stderr, "spheregrad sweep summarize: usage: spheregrad sweep summarize TABLE.csv\n");
      return 2;
    }
    std::fputs(sweep::summarize(read_text(argv[2])).c_str(), stdout);
    return 0;
  }
  Settings s;
  s.plan.presets = {"ex-1.7"};
  s.plan.seeds = {0};
  std::string names;
  for (const std::string& n : train::builtin_names()) names += (names.empty() ? "" : ", ") + n;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf(kHelp, names.c_str());
      return 0;
    }
    if (arg == "--quiet") {
      s.quiet = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "spheregrad sweep: %s needs a value (try --help)\n", arg.c_str());
      return 2;
    }
    const char* value = argv[++i];
    try {
      if (arg == "--presets") s.plan.presets = split(value, ',');
      else if (arg == "--seeds") s.plan.seeds = sweep::parse_seeds(value);
      else if (arg == "--ablations") s.plan.ablations = split(value, ';');
      else if (arg == "--steps") s.steps = int(parse_integer("--steps", value, 1));
      else if (arg == "--jobs") s.jobs = int(parse_integer("--jobs", value, 1));
      else if (arg == "--threads") s.threads = int(parse_integer("--threads", value, 1));
      else if (arg == "--shard") s.shard = sweep::parse_shard(value), s.sharded = true;
      else if (arg == "--out") s.out = value;
      else if (arg == "--csv") s.csv = value;
      else if (arg == "--folders") {
        if (std::strcmp(value, "full") && std::strcmp(value, "none"))
          throw std::invalid_argument(std::string("--folders expects full or none, got '") + value + "'");
        s.folders = !std::strcmp(value, "full");
      } else {
        std::fprintf(stderr, "spheregrad sweep: unknown option '%s' (try --help)\n", arg.c_str());
        return 2;
      }
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "spheregrad sweep: %s\n", e.what());
      return 2;
    }
  }
  std::vector<sweep::RunSpec> all;
  try {
    all = sweep::expand(s.plan);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "spheregrad sweep: %s\n", e.what());
    return 2;
  }
  std::vector<sweep::RunSpec> mine;
  for (const sweep::RunSpec& r : all)
    if (sweep::in_shard(r.index, s.shard)) mine.push_back(r);
  if (s.csv.empty())
    s.csv = s.out + (s.sharded ? "/summary-shard-" + std::to_string(s.shard.first) + "-of-" +
                                     std::to_string(s.shard.second) + ".csv"
                               : "/summary.csv");
  std::filesystem::create_directories(s.out);
  if (!std::filesystem::path(s.csv).parent_path().empty())
    std::filesystem::create_directories(std::filesystem::path(s.csv).parent_path());

  std::map<int, std::string> rows;
  if (s.jobs == 1) {
    for (const sweep::RunSpec& r : mine) {
      rows[r.index] = run_one(r, s);
      progress(s, rows.size(), mine.size(), r);
    }
  } else {
    rows = run_children(mine, s);
  }
  std::string table = sweep::csv_header();
  for (const auto& [index, row] : rows) table += row;
  write_file_atomically(s.csv, table);
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

}  // namespace sg::cli
