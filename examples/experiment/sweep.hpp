// examples/experiment/sweep.hpp -- many training runs as one table: seeds x experiments x ablations.
//
// Contract:
// - A sweep is an ordered list of runs (experiment-major, then ablation, then seed); run i has the
//   fixed index i. Shard K of N (1-based) takes the runs with i % N == K - 1, so any scheduler
//   can spread a sweep over machines without talking to the others.
// - Each run gives one CSV row of deterministic values only (no timings): the same run gives
//   the same bytes on any machine of one build, at any thread count, in any shard.
// - merge_rows() puts shards back together: rows sorted by run index, each index exactly once,
//   so merging the shards of a sweep gives the same file, byte for byte, as running it whole.
// - summarize() groups rows by (experiment, ablation) and reports the crumple rate at 360 and at
//   36 hues with 95 % Wilson intervals, and the means of the geometry metrics.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "examples/experiment/train.hpp"

namespace sg::sweep {

struct RunSpec {
  int index = 0;
  std::string sweep;       // 8 hex digits naming the whole plan: every shard's rows carry it
  std::string experiment;  // as given: a built-in name or a file
  std::string label;       // the experiment's label (its name, plus a hash when not a built-in)
  unsigned long long seed = 0;
  std::vector<std::string> without;  // dropped regularizers, in the experiment's order
};

struct Plan {
  std::vector<std::string> experiments;  // built-in names or files
  train::Overrides overrides;            // applied to every experiment (--set, --without, ...)
  std::vector<unsigned long long> seeds;
  // Ablations: each entry is a set of regularizers to drop ("" = none, "a+b" = drop a and b),
  // or the word "subsets": every non-empty subset of the experiment's regularizers kept (2^n - 1).
  std::vector<std::string> ablations = {""};
};

// The runs of a plan, in index order. Throws std::invalid_argument naming an unknown
// regularizer or an empty list, train::ExperimentError for an experiment that does not load.
std::vector<RunSpec> expand(const Plan& plan);

// "0-9,20,30-31" -> 0..9, 20, 30, 31 (in that order, repeats rejected).
std::vector<unsigned long long> parse_seeds(const std::string& text);
// "K/N" with 1 <= K <= N.
std::pair<int, int> parse_shard(const std::string& text);
bool in_shard(int index, std::pair<int, int> shard);

// The run folder's name: <label>[-without-<a+b>]-seed<N>.
std::string run_name(const RunSpec& run);

// The run's experiment: the plan's overrides, then its seed and its ablation.
train::Experiment experiment_of(const RunSpec& run, const Plan& plan);

// The CSV header and one row (newline-terminated). `error` is empty for a finished run; a run
// that stopped gets status "error", empty metrics and the message.
std::string csv_header();
std::string csv_row(const RunSpec& run, const train::Result* result, const std::string& error);

// Concatenated shard files' rows (headers checked equal, then dropped) -> the whole table.
// Throws std::runtime_error for differing headers, rows of different sweeps, a repeated or
// missing run index, or a line that is not a row; `expected` > 0 also requires exactly that
// many runs.
std::string merge_rows(const std::vector<std::pair<std::string, std::string>>& files, int expected = 0);

// A Markdown table, one line per (experiment, ablation) group, in order of first appearance.
std::string summarize(const std::string& csv);
// A sweep table as one JSON object per row, keyed by column: numbers as numbers, empty cells null
// (the sweep report's data).
nlohmann::json table_rows(const std::string& csv);

// The 95 % Wilson score interval of k successes in n trials.
std::pair<double, double> wilson(int k, int n);

}  // namespace sg::sweep
