// The pieces of `spheregrad llc` (examples/cmd_llc.cpp), exposed so that tests can run them
// in-process: the loss whose LLC the command estimates.
#pragma once

#include <string>
#include <vector>

#include "examples/experiment/trained_model.hpp"
#include "nn/llc.hpp"

namespace sg::cli {

// The number of training colors: the cells of the HSV cube (docs/research.md, "Colors and data"), the n of the
// default nβ = n / ln n.
int color_training_set_size();

// The loss of the LLC of a color model: its reconstruction MSE (mean over samples and channels)
// on the training distribution of Ex 1.7 -- the HSV cube, cells drawn with replacement with
// probability proportional to their bias weight. batch_loss draws `batch` cells from the
// chain's batch stream; full_loss is the exact expectation, the bias-weighted mean of each
// cell's MSE over the 3600 cells.
llc::TargetFactory<float> color_reconstruction_target(const train::TrainedModel& trained, int batch);

}  // namespace sg::cli
