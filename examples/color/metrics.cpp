// examples/color/metrics.cpp -- the measurements of a trained color model.
#include "examples/color/metrics.hpp"

#include <cmath>

namespace sg::color {
namespace {

double angle_deg(const Matrix<float>& z, int row) {
  return std::atan2(double(z(row, 1)), double(z(row, 0))) * 180.0 / M_PI;
}

}  // namespace

Matrix<float> encode(Autoencoder<float>& model, Tape<float>& tape, const Matrix<float>& rgb) {
  const auto mark = tape.mark();
  NoGrad<float> no_grad(tape);
  Matrix<float> z = model.encoder.forward(tape.tensor(rgb)).value();
  tape.rewind(mark);
  return z;
}

FinalMetrics measure(Autoencoder<float>& model, Tape<float>& tape, const std::optional<HueBand>& heldout) {
  FinalMetrics m;
  model.train(false);
  const auto mark = tape.mark();
  NoGrad<float> no_grad(tape);
  auto mse_rows = [&](const Matrix<float>& rgb) {
    const Matrix<float> out = model.forward(tape.tensor(rgb)).reconstruction.value();
    Eigen::VectorXd per = (out - rgb).cast<double>().array().square().rowwise().mean();
    tape.rewind(mark);
    return per;
  };
  const ColorSet cube = rgb_cube(8), named = named_colors();
  m.recon_mse_validation = mse_rows(cube.rgb).mean();
  const Eigen::VectorXd per_named = mse_rows(named.rgb);
  m.recon_mse_named.assign(per_named.data(), per_named.data() + per_named.size());

  const Matrix<float> ring360 = encode(model, tape, hue_ring(360).rgb);
  const HueOrder fine = hue_order(ring360);
  const HueOrder coarse = hue_order(encode(model, tape, hue_ring(36).rgb));
  m.hue_inversions = fine.inversions;
  m.hue_inversions_at_deg = fine.inverted;  // 360 hues: index = degrees
  m.hue_winding = fine.winding;
  m.hue_inversions_36 = coarse.inversions;
  m.hue_winding_36 = coarse.winding;
  m.crumpled = fine.crumpled();

  const Matrix<float> zn = encode(model, tape, named.rgb);
  m.red_cosine = double(zn(0, 0)) / (double(zn.row(0).norm()) + 1e-8);
  m.red_angle_deg = angle_deg(zn, 0);

  const Matrix<float> zc = encode(model, tape, cube.rgb);
  const Eigen::VectorXd radius = zc.cast<double>().rowwise().norm();
  m.radius_mean = radius.mean();
  m.radius_std = std::sqrt((radius.array() - m.radius_mean).square().mean());
  if (ring360.cols() > 2)
    m.planarity_vibrant = ring360.rightCols(ring360.cols() - 2).cast<double>().array().square().rowwise().sum().mean();
  double cx = 0, cy = 0;
  for (long i = 0; i < ring360.rows(); ++i) {
    const double a = std::atan2(double(ring360(i, 1)), double(ring360(i, 0)));
    cx += std::cos(a);
    cy += std::sin(a);
  }
  m.hue_resultant = std::hypot(cx, cy) / double(ring360.rows());
  if (ring360.cols() > 2) {
    std::vector<double> hues;
    for (int d = 0; d < 360; ++d) hues.push_back(d / 360.0);
    const Matrix<float> darker = encode(model, tape, hsv_grid(hues, {1.0}, {0.5}).rgb);
    double sum = 0, sum_abs = 0;
    for (long i = 0; i < darker.rows(); ++i) sum += darker(i, 2), sum_abs += std::abs(double(darker(i, 2)));
    m.dome_height = sum_abs / double(darker.rows());
    m.dome_consistency = sum_abs > 0 ? std::abs(sum) / sum_abs : 0;
  }
  if (heldout) {
    // The trained hues alone (v = 1, whole degrees outside the band), in hue order.
    std::vector<int> kept;
    for (int d = 0; d < 360; ++d)
      if (!heldout->contains(d)) kept.push_back(d);
    Matrix<float> ring(long(kept.size()), ring360.cols());
    for (std::size_t i = 0; i < kept.size(); ++i) ring.row(long(i)) = ring360.row(kept[i]);
    const HueOrder order = hue_order(ring);
    m.train_hue_inversions = order.inversions;
    m.train_hue_winding = order.winding;
    for (std::size_t i = 0; i < kept.size(); ++i) {
      double d = std::abs(angle_deg(ring, int((i + 1) % kept.size())) - angle_deg(ring, int(i)));
      if (d > 180) d = 360 - d;
      if (d > m.train_gap_deg) m.train_gap_deg = d, m.train_gap_after_deg = kept[i];
    }
  }

  auto spacing = [&](double s, double v) {  // primary to secondary to primary ..., in degrees
    const Matrix<float> six = encode(model, tape, hsv_grid({0, 1 / 6.0, 2 / 6.0, 3 / 6.0, 4 / 6.0, 5 / 6.0}, {s}, {v}).rgb);
    std::vector<double> out;
    for (int i = 0; i < 6; ++i) {
      double d = angle_deg(six, (i + 1) % 6) - angle_deg(six, i);
      while (d > 180) d -= 360;
      while (d <= -180) d += 360;
      out.push_back(d);
    }
    return out;
  };
  m.spacing_deg = spacing(1, 1);
  std::vector<double> degrees;
  for (int d = 0; d < 360; ++d) degrees.push_back(d / 360.0);
  for (const auto& [s, v] : {std::pair{1.0, 1.0}, {1.0, 0.5}, {0.5, 1.0}}) {
    const HueOrder order = s == 1 && v == 1 ? fine : hue_order(encode(model, tape, hsv_grid(degrees, {s}, {v}).rgb));
    m.fold_deg = std::max(m.fold_deg, order.largest_fold_deg);
    m.gap_deg = std::max(m.gap_deg, order.largest_gap_deg);
    for (double d : spacing(s, v)) m.spacing_error_deg = std::max(m.spacing_error_deg, std::abs(std::abs(d) - 60));
  }
  model.train(true);
  return m;
}

}  // namespace sg::color
