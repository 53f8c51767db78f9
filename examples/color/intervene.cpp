// examples/color/intervene.cpp -- latent edits, weight surgery, evaluation and the similarity score.
#include "examples/color/intervene.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "examples/experiment/train.hpp"
#include "losses/losses.hpp"

namespace sg::intervene {

// ------------------------------------------------------------------ latent edits

double Falloff::operator()(double a) const {
  if (!(a > a0)) return 0.0;
  // p = 0 is a step: b on the whole open range a > a0 (std::pow(x, 0) is 1 for every x).
  return b * std::pow((a - a0) / (1 - a0), p);
}

void Falloff::check() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("falloff: " + what); };
  if (!(a0 >= 0 && a0 < 1)) fail("a0 must be in [0, 1), got " + std::to_string(a0));
  if (!(b >= 0 && b <= 1)) fail("b must be in [0, 1], got " + std::to_string(b));
  if (!(p >= 0 && std::isfinite(p))) fail("p must be >= 0 (and finite), got " + std::to_string(p));
}

namespace {

void check_direction(const Matrix<float>& x, const std::vector<double>& v, const char* edit) {
  if (long(v.size()) != x.cols())
    throw std::invalid_argument(std::string(edit) + ": the direction has " + std::to_string(v.size()) +
                                " entries, the bottleneck " + std::to_string(x.cols()));
  double norm2 = 0;
  for (double e : v) norm2 += e * e;
  if (!(std::abs(std::sqrt(norm2) - 1) <= 1e-6))
    throw std::invalid_argument(std::string(edit) + ": the direction must be a unit vector (|v| = " +
                                std::to_string(std::sqrt(norm2)) + ")");
}

double row_dot(const Matrix<float>& x, long i, const std::vector<double>& v) {
  double d = 0;
  for (long j = 0; j < x.cols(); ++j) d += double(x(i, j)) * v[j];
  return d;
}

}  // namespace

Matrix<float> suppress(const Matrix<float>& x, const std::vector<double>& v, const Falloff& g) {
  check_direction(x, v, "suppress");
  g.check();
  Matrix<float> out = x;
  for (long i = 0; i < x.rows(); ++i) {
    const double dot = row_dot(x, i, v);
    const double gate = g(std::clamp(dot, 0.0, 1.0));
    if (gate == 0) continue;  // untouched rows keep their exact bits
    for (long j = 0; j < x.cols(); ++j) out(i, j) = float(double(x(i, j)) - gate * dot * v[j]);
  }
  return out;
}

Matrix<float> repel(const Matrix<float>& x, const std::vector<double>& v, const Falloff& g) {
  check_direction(x, v, "repel");
  g.check();
  const long k = x.cols();
  // The fallback turning direction for a row parallel to v (its plane with v is undefined):
  // the axis least aligned with v (the first such), made orthogonal to v. Deterministic.
  std::vector<double> fallback(k, 0.0);
  long least = 0;
  for (long j = 1; j < k; ++j)
    if (std::abs(v[j]) < std::abs(v[least])) least = j;
  fallback[least] = 1;
  for (long j = 0; j < k; ++j) fallback[j] -= v[least] * v[j];
  double fallback_norm = 0;
  for (double e : fallback) fallback_norm += e * e;
  fallback_norm = std::sqrt(fallback_norm);

  Matrix<float> out = x;
  std::vector<double> u(k);
  for (long i = 0; i < x.rows(); ++i) {
    double norm = 0;
    for (long j = 0; j < k; ++j) norm += double(x(i, j)) * x(i, j);
    norm = std::sqrt(norm);
    if (norm == 0) continue;
    const double cosine = row_dot(x, i, v) / norm;
    const double a = std::clamp(cosine, 0.0, 1.0);
    const double gate = g(a);
    if (gate == 0) continue;
    // u: the unit direction of x's part orthogonal to v.
    double u_norm = 0;
    for (long j = 0; j < k; ++j) {
      u[j] = x(i, j) / norm - cosine * v[j];
      u_norm += u[j] * u[j];
    }
    u_norm = std::sqrt(u_norm);
    if (u_norm < 1e-12 || k < 2) {
      if (k < 2 || fallback_norm == 0) continue;  // a 1-D bottleneck has no direction to turn to
      for (long j = 0; j < k; ++j) u[j] = fallback[j] / fallback_norm;
    } else {
      for (double& e : u) e /= u_norm;
    }
    const double m = a * (1 - gate);
    const double perpendicular = std::sqrt(std::max(0.0, 1 - m * m));
    for (long j = 0; j < k; ++j) out(i, j) = float(norm * (m * v[j] + perpendicular * u[j]));
  }
  return out;
}

// ------------------------------------------------------------------ weight edits

Bottleneck find_bottleneck(Autoencoder<float>& model) {
  Bottleneck b;
  for (std::size_t i = model.encoder.size(); i-- > 0 && !b.producer;)
    b.producer = dynamic_cast<Linear<float>*>(&model.encoder[i]);
  for (std::size_t i = 0; i < model.decoder.size() && !b.consumer; ++i)
    b.consumer = dynamic_cast<Linear<float>*>(&model.decoder[i]);
  if (!b.producer || !b.consumer)
    throw std::invalid_argument(model.name + ": no Linear layer on " + (b.producer ? "the decoder" : "the encoder") +
                                " side of the bottleneck");
  b.k = int(b.producer->weight().rows());
  if (b.consumer->weight().cols() != b.k)
    throw std::invalid_argument(model.name + ": the bottleneck's producer has " + std::to_string(b.k) +
                                " outputs but its consumer " + std::to_string(b.consumer->weight().cols()) + " inputs");
  return b;
}

std::vector<int> check_dims(std::vector<int> dims, int k) {
  if (dims.empty()) throw std::invalid_argument("no bottleneck dims given");
  std::sort(dims.begin(), dims.end());
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0 || dims[i] >= k)
      throw std::invalid_argument("bottleneck dim " + std::to_string(dims[i]) + " is out of range (the bottleneck has " +
                                  std::to_string(k) + " dims: 0.." + std::to_string(k - 1) + ")");
    if (i > 0 && dims[i] == dims[i - 1])
      throw std::invalid_argument("bottleneck dim " + std::to_string(dims[i]) + " is given twice");
  }
  if (int(dims.size()) >= k)
    throw std::invalid_argument("removing all " + std::to_string(k) + " bottleneck dims leaves nothing to decode");
  return dims;
}

void ablate(Autoencoder<float>& model, const std::vector<int>& dims_in) {
  const Bottleneck b = find_bottleneck(model);
  const std::vector<int> dims = check_dims(dims_in, b.k);
  auto w = b.producer->weight().value();
  auto bias = b.producer->bias().value();
  auto c = b.consumer->weight().value();
  for (int d : dims) {
    w.row(d).setZero();
    bias(0, d) = 0;
    c.col(d).setZero();
  }
}

namespace {

// The model's name with its bottleneck width replaced; throws for a name that carries none.
std::string renamed(const std::string& name, int old_k, int new_k) {
  int k = 0, n = 0, used = 0;
  if (std::sscanf(name.c_str(), "CNColorMLP(%d,%d)%n", &k, &n, &used) == 2 && used == int(name.size()) && k == old_k)
    return "CNColorMLP(" + std::to_string(new_k) + "," + std::to_string(n) + ")";
  if (std::sscanf(name.c_str(), "ColorMLP(%d)%n", &k, &used) == 1 && used == int(name.size()) && k == old_k)
    return "ColorMLP(" + std::to_string(new_k) + ")";
  throw std::invalid_argument("pruning needs a model named with its bottleneck width (ColorMLP(k) or CNColorMLP(k,N)), got " +
                              name);
}

}  // namespace

Autoencoder<float> prune(Tape<float>& tape, Autoencoder<float>& model, const std::vector<int>& dims_in) {
  const Bottleneck b = find_bottleneck(model);
  const std::vector<int> dims = check_dims(dims_in, b.k);
  std::vector<int> keep;
  for (int d = 0; d < b.k; ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) keep.push_back(d);
  Rng unused(0, Stream::Init);  // every parameter is overwritten below
  Autoencoder<float> pruned = make_model(tape, renamed(model.name, b.k, int(keep.size())), unused);
  const std::vector<Parameter<float>> from = model.parameters(), to = pruned.parameters();
  if (from.size() != to.size()) throw std::logic_error("prune: the rebuilt model has another layout");
  for (std::size_t p = 0; p < from.size(); ++p) {
    const auto src = from[p].tensor.value();
    auto dst = to[p].tensor.value();
    const float* data = from[p].tensor.data();
    if (data == b.producer->weight().data()) {
      for (std::size_t r = 0; r < keep.size(); ++r) dst.row(long(r)) = src.row(keep[r]);
    } else if (data == b.producer->bias().data()) {
      for (std::size_t r = 0; r < keep.size(); ++r) dst(0, long(r)) = src(0, keep[r]);
    } else if (data == b.consumer->weight().data()) {
      for (std::size_t c = 0; c < keep.size(); ++c) dst.col(long(c)) = src.col(keep[c]);
    } else {
      if (src.rows() != dst.rows() || src.cols() != dst.cols())
        throw std::logic_error("prune: parameter " + from[p].name + " changed shape");
      dst = src;
    }
  }
  return pruned;
}

// ------------------------------------------------------------------ evaluation

namespace {

// Evaluation mode for the lifetime of the guard, then the model's previous mode.
class EvalMode {
 public:
  explicit EvalMode(Autoencoder<float>& model) : model_(model), was_training_(model.encoder.training()) {
    model_.train(false);
  }
  ~EvalMode() { model_.train(was_training_); }

 private:
  Autoencoder<float>& model_;
  bool was_training_;
};

}  // namespace

Matrix<float> encode(Autoencoder<float>& model, Tape<float>& tape, const Matrix<float>& rgb) {
  EvalMode eval(model);
  const auto mark = tape.mark();
  NoGrad<float> no_grad(tape);
  Matrix<float> z = model.encoder.forward(tape.tensor(rgb)).value();
  tape.rewind(mark);
  return z;
}

Matrix<float> reconstruct(Autoencoder<float>& model, Tape<float>& tape, const Matrix<float>& rgb,
                          const LatentEdit& edit) {
  EvalMode eval(model);
  const auto mark = tape.mark();
  NoGrad<float> no_grad(tape);
  Tensor<float> z = model.encoder.forward(tape.tensor(rgb));
  if (edit) z = tape.tensor(edit(Matrix<float>(z.value())));
  Matrix<float> out = model.decoder.forward(z).value();
  tape.rewind(mark);
  return out;
}

std::vector<double> per_color_mse(const Matrix<float>& out, const Matrix<float>& rgb) {
  if (out.rows() != rgb.rows() || out.cols() != rgb.cols())
    throw std::invalid_argument("per_color_mse: shapes differ");
  std::vector<double> mse(rgb.rows());
  for (long i = 0; i < rgb.rows(); ++i) {
    double s = 0;
    for (long c = 0; c < rgb.cols(); ++c) s += (double(out(i, c)) - rgb(i, c)) * (double(out(i, c)) - rgb(i, c));
    mse[i] = s / double(rgb.cols());
  }
  return mse;
}

// ------------------------------------------------------------------ concepts and the score

std::vector<std::pair<std::string, color::Hsv>> concept_colors() { return {{"red", {0, 1, 1}}}; }

Concept find_concept(const train::Experiment& experiment, const std::string& label, int k) {
  const auto known = concept_colors();
  std::string names;
  const color::Hsv* hsv = nullptr;
  for (const auto& [name, c] : known) {
    names += (names.empty() ? "" : ", ") + name;
    if (name == label) hsv = &c;
  }
  if (!hsv) throw std::invalid_argument("unknown concept '" + label + "' (known: " + names + ")");
  for (const train::Regularizer& r : experiment.regularizers) {
    const bool anchors = r.kind == train::TermKind::Anchor || r.kind == train::TermKind::AngularAnchor;
    if (!anchors || !r.affinities.count(label) || !r.anchor_point.empty() || r.anchor_sign <= 0) continue;
    if (r.anchor_axis >= k)
      throw std::invalid_argument("experiment " + experiment.name + " anchors '" + label + "' to dim " +
                                  std::to_string(r.anchor_axis) + ", beyond the bottleneck's " + std::to_string(k));
    return {label, loss::axis(k, r.anchor_axis, r.anchor_sign), *hsv};
  }
  throw std::invalid_argument("experiment " + experiment.name + " anchors no concept '" + label +
                              "': its bottleneck has no known direction for it");
}

double hsv_similarity(color::Hsv a, color::Hsv b) {
  double dh = std::abs(a.h - b.h);
  dh -= std::floor(dh);                          // hues are cyclic: |h1 - h2| mod 1 ...
  const double degrees = 360 * std::min(dh, 1 - dh);  // ... and the shorter way round
  const double hue_sim = std::max(0.0, (90 - degrees) / 90);
  // Hue matters in proportion to how colorful the two are: not at all between grays.
  const double r = (a.s * a.v + b.s * b.v) / 2;
  const double eff = r * hue_sim + (1 - r);
  return eff * (1 - std::abs(a.s - b.s)) * (1 - std::abs(a.v - b.v));
}

Fit linear_fit(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) throw std::invalid_argument("linear_fit: x and y differ in length");
  Fit f;
  f.n = int(x.size());
  if (f.n < 2) {
    f.r = f.r2 = f.slope = f.intercept = NAN;
    return f;
  }
  double mx = 0, my = 0;
  for (int i = 0; i < f.n; ++i) mx += x[i], my += y[i];
  mx /= f.n;
  my /= f.n;
  double sxx = 0, syy = 0, sxy = 0;  // centred sums: no cancellation between large totals
  for (int i = 0; i < f.n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  f.slope = sxx > 0 ? sxy / sxx : NAN;
  f.intercept = sxx > 0 ? my - f.slope * mx : NAN;
  f.r = sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : NAN;
  f.r2 = f.r * f.r;
  return f;
}

}  // namespace sg::intervene
