// nn/checkpoint.hpp -- model and optimizer state in a safetensors file.
//
// Contract:
// - Parameters are stored under their own names ("encoder.0.weight"), as F32 (float models) or
//   F64 (double), with PyTorch's shapes -- a weight (out, in), a bias [out] -- so that a PyTorch
//   user loads them into the same architecture with load_state_dict(strict=True)
//   (docs/pytorch.md). A bias stored as [1, out], as checkpoints before 0.2 hold it, still loads.
// - Optimizer state goes under "optimizer.<state name>" ("optimizer.exp_avg.encoder.0.weight")
//   and its step count under "optimizer.step" (I64, shape [1]). The prefixes "rng." and "run." are
//   the caller's (the training loop keeps its random streams and resumable state there).
// - Loading checks that every parameter is present with its shape and dtype, and that the file
//   holds no parameter the model lacks; any mismatch is a SafeTensorsError naming the tensor.
// - The file layer (nn/safetensors.hpp) validates the bytes and writes atomically.
// - seal() stores a checksum of every tensor and every other metadata entry under
//   "checksum"; check_seal() recomputes it on load, so a changed byte anywhere -- weights,
//   moments, random streams, run state, metadata -- is an error, not a silently different run.
#pragma once

#include <cstdio>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "nn/optim.hpp"
#include "nn/safetensors.hpp"

namespace sg {

inline std::string seal_text(const SafeTensors& st) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", (unsigned long long)st.digest("checksum"));
  return buf;
}
inline void seal(SafeTensors& st) { st.metadata["checksum"] = seal_text(st); }
inline void check_seal(const SafeTensors& st) {
  const auto it = st.metadata.find("checksum");
  if (it == st.metadata.end()) throw SafeTensorsError(st.source() + ": no checksum (not a sealed checkpoint)");
  if (it->second != seal_text(st))
    throw SafeTensorsError(st.source() + ": checksum mismatch: the file was changed or damaged after it was written");
}

namespace detail {

template <class T>
void put_matrix(SafeTensors& st, const std::string& name, const T* data, long rows, long cols, bool vector = false) {
  const std::vector<std::int64_t> shape = vector ? std::vector<std::int64_t>{cols} : std::vector<std::int64_t>{rows, cols};
  if constexpr (std::is_same_v<T, float>) st.put_f32(name, shape, {data, std::size_t(rows * cols)});
  else st.put_f64(name, shape, {data, std::size_t(rows * cols)});
}

// A vector (1 x N) is read from [N], or from [1, N] as older checkpoints store it.
template <class T>
void get_matrix(const SafeTensors& st, const std::string& name, T* data, long rows, long cols, bool vector = false) {
  std::vector<std::int64_t> shape = {rows, cols};
  if (vector && !(st.contains(name) && st.at(name).shape == shape)) shape = {cols};
  if constexpr (std::is_same_v<T, float>) st.get_f32(name, shape, {data, std::size_t(rows * cols)});
  else st.get_f64(name, shape, {data, std::size_t(rows * cols)});
}

inline bool is_reserved(const std::string& name) {
  return name.rfind("optimizer.", 0) == 0 || name.rfind("rng.", 0) == 0 || name.rfind("run.", 0) == 0;
}

}  // namespace detail

template <class T>
void save_parameters(SafeTensors& st, const std::vector<Parameter<T>>& params) {
  for (const Parameter<T>& p : params)
    detail::put_matrix(st, p.name, p.tensor.data(), p.tensor.rows(), p.tensor.cols(), p.vector);
}

template <class T>
void load_parameters(const SafeTensors& st, const std::vector<Parameter<T>>& params) {
  std::set<std::string> expected;
  for (const Parameter<T>& p : params) {
    expected.insert(p.name);
    detail::get_matrix(st, p.name, p.tensor.data(), p.tensor.rows(), p.tensor.cols(), p.vector);
  }
  for (const std::string& name : st.names())
    if (!detail::is_reserved(name) && !expected.count(name))
      throw SafeTensorsError(st.source() + ": tensor '" + name + "' is not a parameter of this model");
}

template <class T>
void save_optimizer(SafeTensors& st, Optimizer<T>& opt) {
  for (auto& [name, m] : opt.state()) detail::put_matrix(st, "optimizer." + name, m->data(), m->rows(), m->cols());
  const std::int64_t step = opt.steps_taken();
  st.put_i64("optimizer.step", {1}, {&step, 1});
}

template <class T>
void load_optimizer(const SafeTensors& st, Optimizer<T>& opt) {
  for (auto& [name, m] : opt.state()) detail::get_matrix(st, "optimizer." + name, m->data(), m->rows(), m->cols());
  std::int64_t step = 0;
  st.get_i64("optimizer.step", {1}, {&step, 1});
  opt.set_steps_taken(long(step));
}

}  // namespace sg
