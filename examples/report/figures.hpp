// examples/report/figures.hpp -- what a run writes besides its CSV: NumPy arrays, SVG figures and the
// self-contained HTML report.
//
// Contract: every function returns the file's contents as a string (the caller writes it
// atomically); nothing here touches the network or needs a library beyond the standard one.
// Latent plots follow the research's convention: dim 1 horizontal, dim 0 vertical, red on top; each
// dot is filled with its true color, the unit circle is dashed.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "autodiff/tensor.hpp"
#include "nn/llc.hpp"
#include "schedule/dopesheet.hpp"

namespace sg::figures {

// A NumPy .npy file (format 1.0, little-endian float32 or int64, C order) holding `data` with
// `shape`.
std::string npy(const float* data, const std::vector<long>& shape);
std::string npy(const std::int64_t* data, const std::vector<long>& shape);

// Scatter of latents (n, k) projected on (dim_x horizontal, dim_y vertical).
std::string latent_svg(const Matrix<float>& latents, const Matrix<float>& rgb, int dim_x, int dim_y,
                       const std::string& title);

struct Series {
  std::string name;
  std::vector<double> x, y;
};
// A vertical dashed line at step x (a phase start), colored like series `color`.
struct Marker {
  double x;
  std::string label;
  int color = 0;
};

// Line chart of several series against steps; log10 y axis when `log_y` (non-positive values
// are left out of a log chart); markers are drawn as dashed vertical lines.
std::string line_chart_svg(const std::vector<Series>& series, bool log_y, const std::string& title,
                           const std::vector<Marker>& markers = {});

// The report: plays the latent snapshots with a slider and a play button, beside the loss
// curves and the schedule, each with a cursor at the current snapshot. `data_json` is a JSON
// object with the keys the page's script reads (see report_data in examples/experiment/train.cpp).
// A report page (examples/report/assets/): `data_json` is its DATA -- {"kind": "run", ...} for a
// run (run_folder.cpp), "comparison" (cmd_compare.cpp) or "sweep" (cmd_sweep.cpp).
std::string report_html(const std::string& title, const std::string& data_json);
// The DATA of a report page written by report_html (a comparison shows its runs' own data).
nlohmann::json report_data(const std::string& report_path);

// Every property of a dopesheet over the whole schedule, one panel each (a log axis for
// log-space ones), phase instances as bands, actions as markers.
std::string schedule_svg(const schedule::Dopesheet& sheet);

// The LLC against nbeta (a log axis) with +- one standard deviation over chains, one point per
// estimate, in increasing nbeta.
std::string llc_spectrum_svg(const std::vector<llc::Estimate>& points, const std::string& title);

// Writes `path + ".tmp-<pid>"` then renames it over `path`, so a reader never sees half a file.
// Throws std::runtime_error naming the path.
void write_file_atomically(const std::string& path, std::string_view contents);

}  // namespace sg::figures
