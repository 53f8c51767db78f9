// examples/experiment/trained_model.cpp -- reading a run's checkpoint back into a model's weights.
#include "examples/experiment/trained_model.hpp"

#include <filesystem>
#include <stdexcept>

#include "nn/checkpoint.hpp"
#include "nn/models.hpp"

namespace sg::train {

TrainedModel load_trained_model(const std::string& path) {
  namespace fs = std::filesystem;
  TrainedModel t;
  t.checkpoint = fs::is_directory(path) ? (fs::path(path) / "checkpoint.safetensors").string() : path;
  if (fs::is_directory(path) && !fs::is_regular_file(fs::path(path) / "summary.json"))
    throw std::runtime_error("run folder " + path + " is not finished (no summary.json)");
  if (!fs::is_regular_file(t.checkpoint))
    throw std::runtime_error(fs::is_directory(path) ? "run folder " + path + " has no checkpoint.safetensors"
                                                    : "no such run folder or checkpoint: " + path);
  const SafeTensors st = SafeTensors::load(t.checkpoint);
  check_seal(st);
  auto meta = [&](const char* key) {
    const auto it = st.metadata.find(key);
    return it == st.metadata.end() ? std::string() : it->second;
  };
  t.model = meta("model");
  t.label = meta("experiment");
  t.experiment = meta("experiment.json");
  t.seed = meta("seed");
  t.step = meta("step");
  if (t.model.empty()) throw std::runtime_error(t.checkpoint + ": no \"model\" in the metadata (not a spheregrad checkpoint?)");
  Tape<float> tape;
  Rng unused(0, Stream::Init);
  const Autoencoder<float> model = make_model(tape, t.model, unused);
  const std::vector<Parameter<float>> params = model.parameters();
  load_parameters(st, params);  // checks every name, shape and dtype
  for (const Parameter<float>& p : params) {
    t.names.push_back(p.name);
    t.values.push_back(p.tensor.value());
  }
  return t;
}

}  // namespace sg::train
