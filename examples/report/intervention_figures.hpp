// examples/report/intervention_figures.hpp -- the figures of `spheregrad intervene`: reconstructions
// before or after an intervention, and every color's error against hue and against its similarity
// to the concept.
//
// The figures read rows of the color set an intervention is measured on
// (examples/experiment/intervention.cpp), from the row `first` on, laid out as below.
#pragma once

#include <string>
#include <vector>

#include "autodiff/tensor.hpp"
#include "examples/color/intervene.hpp"

namespace sg::figures {

// HSV slices: 12 hues x 4 saturations x 5 values, hue outermost, value innermost.
inline constexpr int kSliceHues = 12, kSliceSats = 4, kSliceVals = 5;
// A hue sweep: whole degrees 0..359 at each (s, v) level in turn.
inline constexpr double kSweepLevels[3][2] = {{1, 1}, {1, 0.5}, {0.5, 1}};

// Reconstructed colors around true ones (the inner squares) on the HSV slices: one panel per
// saturation, hue left to right, value from 1 (top) down to 0.
std::string patches_svg(const Matrix<float>& truth, const Matrix<float>& recon, int first, const std::string& title);

// Per-color MSE against hue on the hue sweep: before at the first level, after at every level.
std::string mse_vs_hue_svg(const std::vector<double>& before, const std::vector<double>& after, int first,
                           const std::string& title);

// MSE after the intervention against sim^power (x in [0, 1]), each color (`rgb`, one row per
// point) drawn in its own color, with the least-squares line `fit`.
std::string error_vs_similarity_svg(const std::vector<double>& sim_p, const std::vector<double>& mse,
                                    const Matrix<float>& rgb, const intervene::Fit& fit, const std::string& title,
                                    const std::string& x_label);

}  // namespace sg::figures
