// examples/experiment/run_folder.cpp -- what a run leaves behind: experiment.json, metrics.csv
// (row by row), snapshots, checkpoints to resume from, and at the end every output file; and
// reading a finished folder back.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iterator>

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "examples/experiment/run.hpp"
#include "nn/checkpoint.hpp"

namespace sg::train {

namespace {

// A whole non-negative decimal number from a checkpoint's metadata.
long long parse_count(const std::string& text, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno || *end || v < 0) throw std::runtime_error(what + " is not a count: '" + text.substr(0, 40) + "'");
  return v;
}

}  // namespace

nlohmann::json series_json(const std::vector<figures::Series>& series) {
  nlohmann::json out = {{"steps", series.empty() ? std::vector<double>() : series[0].x},
                        {"series", nlohmann::json::array()}};
  for (const figures::Series& s : series) {
    nlohmann::json y = nlohmann::json::array();
    for (double v : s.y) y.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json());
    out["series"].push_back({{"name", s.name}, {"y", y}});
  }
  return out;
}

void Run::open_metrics() {
  std::filesystem::create_directories(out_dir_);
  figures::write_file_atomically(out_dir_ + "/experiment.json", to_text(exp_.resolved));
  metrics_tmp_ = out_dir_ + "/metrics.csv.tmp";
  metrics_ = std::fopen(metrics_tmp_.c_str(), "wb");
  if (!metrics_) throw std::runtime_error("cannot write " + metrics_tmp_ + ": " + std::strerror(errno));
  std::string header = "step,phase";
  for (const auto& p : sheet_.properties) header += "," + p.name;
  header += ",recon";
  for (const BoundRegularizer& r : regs_) header += "," + r.spec->name + ":raw," + r.spec->name + ":weighted";
  header += ",total";
  for (const auto& rule : rules_) header += ",n_" + rule.name;
  std::fprintf(metrics_, "%s\n", header.c_str());
}

// One CSV row (no timings in it: the same seed gives the same bytes) and the in-memory curves.
void Run::log_step(int step) {
  const std::span<const double> values = timeline_.values();
  curve_recon_.add(recon_value_);
  curve_total_.add(total_value_);
  for (std::size_t r = 0; r < regs_.size(); ++r) {
    curve_reg_[r].add(regs_[r].last_raw);
    curve_weighted_[r].add(regs_[r].last_raw * values[regs_[r].column]);  // NaN (skipped) when not computed
  }
  for (std::size_t c = 0; c < values.size(); ++c) curve_sched_[c].add(values[c]);
  if (!metrics_ || step % exp_.log_every != 0) return;
  // The row is the text printf's "%.9g" writes: std::to_chars with precision 9 is specified to
  // write exactly that, without printf's cost (about a seventh of a batch-64 step).
  char row[64];
  const auto put = [&](char* end) { std::fwrite(row, 1, std::size_t(end - row), metrics_); };
  const auto number = [&](double v) {
    row[0] = ',';
    put(std::to_chars(row + 1, row + sizeof row, v, std::chars_format::general, 9).ptr);
  };
  put(std::to_chars(row, row + sizeof row, step).ptr);
  std::fputc(',', metrics_);
  std::fwrite(timeline_.phase().empty() ? "" : timeline_.phase().data(), 1, timeline_.phase().size(), metrics_);  // never null
  for (double v : values) number(v);
  number(recon_value_);
  for (const BoundRegularizer& r : regs_) {
    if (std::isnan(r.last_raw)) std::fputs(",,", metrics_);  // not computed this step
    else number(r.last_raw), number(r.last_raw * values[r.column]);
  }
  number(total_value_);
  for (int c : label_count_) number(c);  // a count below 1e9: "%.9g" writes it as "%d" does
  std::fputc('\n', metrics_);
}

void Run::snapshot(int step) {
  const Matrix<float> z = color::encode(model_, tape_, validation_.rgb);
  snapshots_.insert(snapshots_.end(), z.data(), z.data() + z.size());
  snapshot_steps_.push_back(float(step));
}

// Everything a run is, after `completed` steps: the model and Adam (what a user loads), and
// what resuming needs -- the random streams, the drift anchor's reference, the curves and
// snapshots the final figures are drawn from, and how many bytes of metrics.csv are written.
void Run::save_state(SafeTensors& st, int completed) {
  save_parameters(st, params_);
  save_optimizer(st, adam_);
  const auto sampler_state = sampler_rng_.state(), label_state = label_rng_.state();
  st.put_u64("rng.sampler", {4}, {sampler_state.data(), 4});
  st.put_u64("rng.labels", {4}, {label_state.data(), 4});
  if (drift_.captured()) {
    const Matrix<float>& ref = drift_.reference();
    st.put_f32("run.drift_reference", {ref.rows(), ref.cols()}, {ref.data(), std::size_t(ref.size())});
  }
  const std::vector<WindowMeans*> all = curves();
  for (std::size_t c = 0; c < all.size(); ++c) {
    const std::vector<double> v = all[c]->state();
    st.put_f64("run.curve." + std::to_string(c), {std::int64_t(v.size())}, v);
  }
  st.put_f32("run.snapshots", {std::int64_t(snapshots_.size())}, {snapshots_.data(), snapshots_.size()});
  st.put_f32("run.snapshot_steps", {std::int64_t(snapshot_steps_.size())}, {snapshot_steps_.data(), snapshot_steps_.size()});
  st.metadata = {{"format", "spheregrad checkpoint"}, {"version", kVersion}, {"model", exp_.model.name()},
                 {"experiment", exp_.label()}, {"seed", std::to_string(exp_.seed)}, {"step", std::to_string(completed)},
                 {"checkpoint_every", std::to_string(o_.checkpoint_every)}, {"experiment.json", exp_.resolved.dump()}};
}

// A checkpoint mid-run: metrics.csv.tmp is flushed to disk first and its length recorded, so
// that a resumed run cuts it back to exactly the rows of the steps the checkpoint holds.
void Run::checkpoint(int completed) {
  if (!o_.write_outputs) return;
  if (std::fflush(metrics_) != 0 || fsync(fileno(metrics_)) != 0)
    throw std::runtime_error("cannot write " + metrics_tmp_ + ": " + std::strerror(errno));
  SafeTensors st;
  save_state(st, completed);
  st.metadata["metrics_bytes"] = std::to_string(std::ftell(metrics_));
  seal(st);
  st.save(out_dir_ + "/" + kResumeFile);
}

// Back to the state after the checkpoint's steps; returns how many steps that is.
int Run::restore() {
  const std::string path = out_dir_ + "/" + kResumeFile;
  const SafeTensors st = SafeTensors::load(path);
  check_seal(st);
  if (!st.metadata.count("metrics_bytes"))
    throw std::runtime_error(path + ": the run is already complete (its checkpoint is the final one)");
  // The checkpoint must be this run's, at a step inside it, with a metrics length that ends a
  // row of the metrics file beside it (a resumed run appends to exactly those rows).
  const std::string folder_experiment = out_dir_ + "/experiment.json";
  if (!std::filesystem::exists(folder_experiment) ||
      load_stored_experiment(folder_experiment).resolved != exp_.resolved)
    throw std::runtime_error(path + ": its experiment is not the one in " + folder_experiment +
                             " (a checkpoint resumes only the run that wrote it)");
  const long long completed = parse_count(st.metadata.at("step"), path + ": step");
  if (completed < 1 || completed >= steps_)
    throw std::runtime_error(path + ": step " + std::to_string(completed) + " is not inside the run (1 .. " +
                             std::to_string(steps_ - 1) + ")");
  // Every restored field has exactly the shape and the range this run at this step implies.
  load_parameters(st, params_);
  load_optimizer(st, adam_);
  if (adam_.steps_taken() != completed)
    throw std::runtime_error(path + ": the optimizer has taken " + std::to_string(adam_.steps_taken()) +
                             " steps, not the checkpoint's " + std::to_string(completed));
  std::array<std::uint64_t, 4> state{};
  for (auto [name, rng] : {std::pair{"rng.sampler", &sampler_rng_}, std::pair{"rng.labels", &label_rng_}}) {
    st.get_u64(name, {4}, state);
    if (state == std::array<std::uint64_t, 4>{})
      throw std::runtime_error(path + ": " + name + " is all zero (not a state of the generator)");
    rng->set_state(state);
  }
  if (st.contains("run.drift_reference")) {
    Matrix<float> ref(6, k_);  // the drift anchor's reference: the 6-hue ring, encoded
    st.get_f32("run.drift_reference", {6, k_}, {ref.data(), std::size_t(ref.size())});
    drift_.capture(ref);
  }
  const std::vector<WindowMeans*> all = curves();
  for (std::size_t c = 0; c < all.size(); ++c) {
    const std::string name = "run.curve." + std::to_string(c);
    std::vector<double> v(std::size_t(4 + completed / all[c]->window));
    st.get_f64(name, {std::int64_t(v.size())}, v);
    all[c]->set_state(v, long(completed), path + ": " + name);
  }
  // Snapshots are taken before the steps 0, snapshot_every, 2 snapshot_every, ... of the run.
  const long long taken = exp_.snapshot_every > 0 ? (completed - 1) / exp_.snapshot_every + 1 : 0;
  snapshot_steps_.resize(std::size_t(taken));
  st.get_f32("run.snapshot_steps", {taken}, snapshot_steps_);
  for (long long i = 0; i < taken; ++i)
    if (snapshot_steps_[std::size_t(i)] != float(i * exp_.snapshot_every))
      throw std::runtime_error(path + ": run.snapshot_steps are not the steps this run snapshots");
  snapshots_.resize(std::size_t(taken * validation_.size() * k_));
  st.get_f32("run.snapshots", {std::int64_t(snapshots_.size())}, snapshots_);

  // The metrics written so far, cut back to the checkpoint's rows (a killed run may have
  // written more), then appended to.
  metrics_tmp_ = out_dir_ + "/metrics.csv.tmp";
  const long long bytes = parse_count(st.metadata.at("metrics_bytes"), path + ": metrics_bytes");
  {
    std::ifstream metrics(metrics_tmp_, std::ios::binary);
    std::error_code ec;
    const auto size = std::filesystem::file_size(metrics_tmp_, ec);
    char last = 0;
    if (!metrics || ec || bytes < 1 || std::uintmax_t(bytes) > size || !metrics.seekg(bytes - 1).get(last) || last != '\n')
      throw std::runtime_error("cannot resume: " + metrics_tmp_ + " does not hold the " + std::to_string(bytes) +
                               " bytes of rows the checkpoint counts (missing, shorter, or not at a row's end)");
  }
  if (truncate(metrics_tmp_.c_str(), off_t(bytes)) != 0)
    throw std::runtime_error("cannot resume: " + metrics_tmp_ + ": " + std::strerror(errno));
  metrics_ = std::fopen(metrics_tmp_.c_str(), "ab");
  if (!metrics_) throw std::runtime_error("cannot write " + metrics_tmp_ + ": " + std::strerror(errno));
  // The schedule is a pure function of the step: replaying it reproduces every transition.
  for (int s = 0; s < completed; ++s) timeline_.step();
  return int(completed);
}

void Run::write_outputs(const Result& result) {
  const std::string dir = out_dir_ + "/";
  // The folder is finished when summary.json appears, and it is written last. Until then the
  // run's own files stay (metrics.csv.tmp, resume.safetensors): a run stopped anywhere in this
  // phase resumes and writes every file again.
  const char* kill_after = std::getenv("SPHEREGRAD_KILL_AFTER");  // tests: SIGKILL after that file
  const auto written = [&](const std::string& file) {
    if (kill_after && file == kill_after) raise(SIGKILL);
  };
  if (std::fflush(metrics_) != 0) throw std::runtime_error("cannot write " + metrics_tmp_ + ": " + std::strerror(errno));
  std::ifstream rows(metrics_tmp_, std::ios::binary);
  const std::string metrics_text((std::istreambuf_iterator<char>(rows)), std::istreambuf_iterator<char>());
  figures::write_file_atomically(dir + "metrics.csv", metrics_text);
  written("metrics.csv");
  const long n_snap = long(snapshot_steps_.size());
  figures::write_file_atomically(dir + "latents.npy", figures::npy(snapshots_.data(), {n_snap, validation_.size(), k_}));
  written("latents.npy");
  const std::vector<std::int64_t> steps(snapshot_steps_.begin(), snapshot_steps_.end());
  figures::write_file_atomically(dir + "latent_steps.npy", figures::npy(steps.data(), {n_snap}));
  written("latent_steps.npy");

  SafeTensors st;
  save_state(st, steps_);
  seal(st);
  st.save(dir + "checkpoint.safetensors");
  written("checkpoint.safetensors");

  const color::FinalMetrics& m = result.metrics;
  nlohmann::ordered_json metrics = {
      {"recon_mse_validation", m.recon_mse_validation}, {"hue_inversions", m.hue_inversions},
      {"hue_inversions_at_deg", m.hue_inversions_at_deg}, {"hue_winding", m.hue_winding}, {"hue_inversions_36", m.hue_inversions_36},
      {"hue_winding_36", m.hue_winding_36}, {"crumpled", m.crumpled}, {"red_cosine", m.red_cosine},
      {"red_angle_deg", m.red_angle_deg}, {"radius_mean", m.radius_mean}, {"radius_std", m.radius_std},
      {"planarity_vibrant", m.planarity_vibrant}, {"spacing_deg", m.spacing_deg},
      {"separate_final", std::isnan(m.separate_final) ? nlohmann::ordered_json() : nlohmann::ordered_json(m.separate_final)},
      {"hue_resultant", m.hue_resultant}, {"fold_deg", m.fold_deg}, {"gap_deg", m.gap_deg},
      {"spacing_error_deg", m.spacing_error_deg}, {"visible_fold", m.visible_fold()}};
  if (!std::isnan(m.organization_validation)) metrics["organization_validation"] = m.organization_validation;
  if (k_ > 2) {
    metrics["dome_height"] = m.dome_height;
    metrics["dome_consistency"] = m.dome_consistency;
  }
  if (exp_.heldout) {
    metrics["train_hue_inversions"] = m.train_hue_inversions;
    metrics["train_hue_winding"] = m.train_hue_winding;
    metrics["train_gap_deg"] = m.train_gap_deg;
    metrics["train_gap_after_deg"] = m.train_gap_after_deg;
  }
  nlohmann::ordered_json named = nlohmann::ordered_json::object();
  const color::ColorSet named_set = color::named_colors();
  for (int i = 0; i < named_set.size(); ++i) named[named_set.name[i]] = m.recon_mse_named[i];
  metrics["recon_mse_named"] = named;
  const nlohmann::ordered_json summary = {
      {"experiment", exp_.name}, {"label", exp_.label()}, {"hash", exp_.hash}, {"stock", exp_.stock},
      {"description", exp_.description}, {"seed", exp_.seed}, {"version", kVersion}, {"model", exp_.model.name()},
      {"steps", steps_}, {"batch", batch_}, {"threads", o_.threads},
      {"wall_seconds", result.train_seconds}, {"steps_per_second", result.steps_per_second},
      {"peak_rss_kb", result.peak_rss_kb}, {"final_total", result.final_total},
      {"final_recon", result.final_recon}, {"metrics", metrics}};

  // Figures: the final latents in three projections, the loss curves, the schedule.
  const Matrix<float> final_z = color::encode(model_, tape_, validation_.rgb);
  const std::string title = (exp_.stock ? exp_.name : exp_.name + " (custom " + exp_.hash + ")") + " seed " +
                            std::to_string(exp_.seed);
  for (int d : {0, 2, 3})
    if (d < k_)
      figures::write_file_atomically(
          dir + "latents_dim1_dim" + std::to_string(d) + ".svg",
          figures::latent_svg(final_z, validation_.rgb, 1, d,
                              title + ", step " + std::to_string(steps_) + ": dim 1 / dim " + std::to_string(d)));
  std::vector<figures::Series> losses = {curve_total_.series("total"), curve_recon_.series("recon")};
  for (std::size_t r = 0; r < regs_.size(); ++r) losses.push_back(curve_reg_[r].series(regs_[r].spec->name));
  std::vector<figures::Series> schedule;
  for (std::size_t c = 0; c < sheet_.properties.size(); ++c)
    schedule.push_back(curve_sched_[c].series(sheet_.properties[c].name));
  figures::write_file_atomically(dir + "losses.svg",
                             figures::line_chart_svg(losses, true, title + ": loss terms (raw, window means)"));
  figures::write_file_atomically(dir + "schedule.svg", figures::schedule_svg(sheet_));

  nlohmann::json report;
  report["kind"] = "run";
  report["title"] = title;
  report["description"] = exp_.description;
  report["experiment"] = exp_.resolved;
  report["dims"] = k_;
  nlohmann::json colors = nlohmann::json::array();
  for (int i = 0; i < validation_.size(); ++i)
    colors.push_back({validation_.rgb(i, 0), validation_.rgb(i, 1), validation_.rgb(i, 2)});
  report["colors"] = colors;
  nlohmann::json snaps = nlohmann::json::array();
  const long per = long(validation_.size()) * k_;
  for (long s = 0; s < n_snap; ++s) {
    std::vector<double> z(snapshots_.begin() + s * per, snapshots_.begin() + (s + 1) * per);
    for (double& v : z) v = std::round(v * 1e4) / 1e4;  // 4 decimals are plenty for a plot
    snaps.push_back({{"step", int(snapshot_steps_[s])}, {"z", z}});
  }
  report["snapshots"] = snaps;
  report["raw"] = series_json(losses);  // total and recon, then each term unweighted
  std::vector<figures::Series> weighted = {curve_total_.series("total"), curve_recon_.series("recon")};
  for (std::size_t r = 0; r < regs_.size(); ++r) weighted.push_back(curve_weighted_[r].series(regs_[r].spec->name));
  report["weighted"] = series_json(weighted);
  report["schedule"] = series_json(schedule);
  nlohmann::json phases = nlohmann::json::array(), events = nlohmann::json::array();
  for (const schedule::PhaseInstance& p : sheet_.phases) phases.push_back({{"name", p.name}, {"start", p.start}, {"end", p.end}});
  for (const schedule::StepEvents& a : sheet_.actions) events.push_back({{"step", a.step}, {"names", a.events}});
  report["phases"] = phases;
  report["events"] = events;
  nlohmann::json flat = {{"seed", exp_.seed}, {"steps", steps_}, {"steps_per_second", result.steps_per_second}};
  for (const auto& [key, value] : metrics.items())
    if (key != "recon_mse_named") flat[key] = value;
  report["summary"] = flat;
  figures::write_file_atomically(dir + "report.html", figures::report_html(title, report.dump()));
  written("report.html");
  figures::write_file_atomically(dir + "summary.json", summary.dump(2) + "\n");
  written("summary.json");
  // Finished: what resuming needed goes. The destructor must not touch the metrics file again.
  std::fclose(metrics_);
  metrics_ = nullptr;
  std::remove(metrics_tmp_.c_str());
  std::remove((dir + kResumeFile).c_str());
}

std::string default_out(const Experiment& e) { return "out/" + e.label() + "-seed" + std::to_string(e.seed); }

Options resume_options(const std::string& dir) {
  if (std::filesystem::exists(dir + "/summary.json"))
    throw std::runtime_error(dir + ": the run is already complete (it has its summary.json)");
  const std::string path = dir + "/" + kResumeFile;
  if (!std::filesystem::exists(path))
    throw std::runtime_error("cannot resume: " + path + " does not exist (a run stopped before its first checkpoint " +
                             "is started again: the same command without --resume)");
  const SafeTensors st = SafeTensors::load(path);
  check_seal(st);
  if (!st.metadata.count("experiment.json") || !st.metadata.count("checkpoint_every"))
    throw std::runtime_error(path + ": not a spheregrad training checkpoint (no experiment in its metadata)");
  Options o;
  o.experiment = parse_experiment(st.metadata.at("experiment.json"), path + " (its experiment)");
  o.checkpoint_every = int(std::min<long long>(parse_count(st.metadata.at("checkpoint_every"), path + ": checkpoint_every"),
                                                1000000000));
  o.out = dir;
  o.resume = true;
  return o;
}

FinishedRun load_run(const std::string& dir) {
  const std::string summary_path = dir + "/summary.json", experiment_path = dir + "/experiment.json";
  for (const std::string& p : {experiment_path, summary_path})
    if (!std::filesystem::is_regular_file(p)) throw std::runtime_error(dir + " is not a finished run folder: no " + p);
  FinishedRun run{load_stored_experiment(experiment_path), {}};
  std::ifstream in(summary_path);
  const nlohmann::json s = nlohmann::json::parse(in, nullptr, false);
  try {
    Result& r = run.result;
    r.out_dir = dir;
    r.steps = s.at("steps");
    r.final_total = s.at("final_total");
    r.final_recon = s.at("final_recon");
    const nlohmann::json& m = s.at("metrics");
    color::FinalMetrics& f = r.metrics;
    f.recon_mse_validation = m.at("recon_mse_validation");
    f.hue_inversions = m.at("hue_inversions");
    f.hue_winding = m.at("hue_winding");
    f.hue_inversions_36 = m.at("hue_inversions_36");
    f.hue_winding_36 = m.at("hue_winding_36");
    f.crumpled = m.at("crumpled");
    f.red_cosine = m.at("red_cosine");
    f.red_angle_deg = m.at("red_angle_deg");
    f.radius_mean = m.at("radius_mean");
    f.radius_std = m.at("radius_std");
    f.planarity_vibrant = m.at("planarity_vibrant");
    f.hue_resultant = m.at("hue_resultant");
    f.spacing_deg = m.at("spacing_deg").get<std::vector<double>>();
    f.fold_deg = m.value("fold_deg", NAN);  // absent from the summaries of 0.2.0
    f.gap_deg = m.value("gap_deg", NAN);
    f.spacing_error_deg = m.value("spacing_error_deg", NAN);
    f.organization_validation = m.value("organization_validation", NAN);  // only with organization terms
    f.separate_final = m.at("separate_final").is_null() ? NAN : m.at("separate_final").get<double>();
    for (const std::string& name : color::named_colors().name) f.recon_mse_named.push_back(m.at("recon_mse_named").at(name));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(summary_path + ": not a summary of this version (" + e.what() + ")");
  }
  return run;
}

}  // namespace sg::train
