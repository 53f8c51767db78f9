// examples/experiment/trained_model.hpp -- a trained color model read back from its run folder.
#pragma once

#include <string>
#include <vector>

#include "autodiff/tensor.hpp"

namespace sg::train {

// A color model's trained weights w*, read from a run folder (its checkpoint.safetensors) or
// from a checkpoint file, with the run's metadata.
struct TrainedModel {
  std::string checkpoint;                 // the file read
  std::string model, label, seed, step;   // metadata ("" when absent; model is required)
  std::string experiment;                 // the resolved experiment (JSON text; "" when absent)
  std::vector<std::string> names;         // parameter names, in the model's order
  std::vector<Matrix<float>> values;      // w*, one matrix per parameter
};
// Throws std::runtime_error (or SafeTensorsError) naming the path when it is neither, or when
// the checkpoint does not match its model.
TrainedModel load_trained_model(const std::string& run_dir_or_checkpoint);

}  // namespace sg::train
