// The pieces of `spheregrad llc` (examples/cmd_llc.cpp), exposed so that tests can run them
// in-process: loading a trained color model, and the loss whose LLC the command estimates.
#pragma once

#include <string>
#include <vector>

#include "nn/llc.hpp"

namespace sg::cli {

// A color model's trained weights w*, read from a run folder (its checkpoint.safetensors) or
// from a checkpoint file, with the run's metadata.
struct TrainedModel {
  std::string checkpoint;                 // the file read
  std::string model, preset, seed, step;  // metadata ("" when absent; model is required); preset: the experiment's label
  std::string experiment;                 // the resolved experiment (JSON text; "" when absent)
  std::vector<std::string> names;         // parameter names, in the model's order
  std::vector<Matrix<float>> values;      // w*, one matrix per parameter
};
// Throws std::runtime_error (or SafeTensorsError) naming the path when it is neither, or when
// the checkpoint does not match its model.
TrainedModel load_trained_model(const std::string& run_dir_or_checkpoint);

// The number of training colors: the cells of the HSV cube (SPEC.md section 1), the n of the
// default nβ = n / ln n.
int color_training_set_size();

// The loss of the LLC of a color model: its reconstruction MSE (mean over samples and channels)
// on the training distribution of Ex 1.7 -- the HSV cube, cells drawn with replacement with
// probability proportional to their bias weight. batch_loss draws `batch` cells from the
// chain's batch stream; full_loss is the exact expectation, the bias-weighted mean of each
// cell's MSE over the 3600 cells.
llc::TargetFactory<float> color_reconstruction_target(const TrainedModel& trained, int batch);

}  // namespace sg::cli
