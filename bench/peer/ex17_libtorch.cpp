// bench/peer/ex17_libtorch.cpp -- the Ex 1.7 training step in LibTorch (PyTorch's C++ API), the
// same step as bench/peer/ex17_step.py op for op, without the Python interpreter in the loop.
//
// One step: lr and the five weights from the Ex 1.7 dopesheet at this step; B cells of the HSV
// cube by multinomial sampling on the bias weights; the M1 labels per draw; ColorMLP(4) with
// PyTorch's default initialization; MSE + anchor (red) + angular repulsion (p = 10, no shift)
// + planarity (vibrant) + unitarity (vibrant) + unitarity (all), selective terms skipped when no
// sample is selected; loss.item(); backward; Adam. --variant simple keeps MSE + unitarity +
// angular repulsion. Options as the Python peer's: --batch --threads --steps --seconds --warmup
// --seed --variant. Prints one JSON line like it (steps/s, and an FNV-1a hash of the final
// parameters' bytes instead of SHA-256: equality is all the reproducibility check needs).
//
// Built by `make bench-compare` (Debian's libtorch-dev):
//   g++ -O2 -std=c++17 bench/peer/ex17_libtorch.cpp -I/usr/include/torch/csrc/api/include \
//       -ltorch -ltorch_cpu -lc10 -o build/peer_libtorch
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace {

struct Keyframe {
  int step;
  double value;
};

// The first value until the first keyframe, rest-to-rest minimum jerk between keyframes, then
// the last value held (docs/schedule.md; the realization spheregrad's timeline computes).
double realized(const std::vector<Keyframe>& k, int step) {
  if (step <= k.front().step) return k.front().value;
  for (std::size_t i = 0; i + 1 < k.size(); ++i)
    if (step < k[i + 1].step) {
      const double tau = double(step - k[i].step) / (k[i + 1].step - k[i].step);
      return k[i].value + (k[i + 1].value - k[i].value) * tau * tau * tau * (10 - 15 * tau + 6 * tau * tau);
    }
  return k.back().value;
}

const std::vector<std::vector<Keyframe>> kEx17 = {
    {{0, 1e-8}, {10, 0.01}, {5000, 0.01}, {10000, 0.005}},            // lr
    {{0, 0.001}, {500, 0.02}, {2500, 0.01}, {5000, 0.001}},           // reg-separate
    {{0, 0.02}, {2500, 0.08}, {5000, 0.02}},                          // reg-planar
    {{0, 0.01}, {5000, 0.2}},                                         // reg-norm
    {{0, 0.02}},                                                      // reg-norm-v
    {{5000, 0.006}, {7500, 0.0002}},                                  // reg-polar
};

// The HSV cube (hue outermost, as spheregrad orders it) and its bias weights.
void hsv_cube(torch::Tensor& rgb, torch::Tensor& bias) {
  const int nh = 36, ns = 10, nv = 10;
  std::vector<float> c;
  std::vector<double> w;
  for (int ih = 0; ih < nh; ++ih)
    for (int is = 0; is < ns; ++is)
      for (int iv = 0; iv < nv; ++iv) {
        const double h = double(ih) / nh, s = double(is) / (ns - 1), v = double(iv) / (nv - 1);
        const double h6 = (h - std::floor(h)) * 6, f = h6 - std::floor(h6);
        const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
        double r, g, b;
        switch (int(h6) % 6) {
          case 0: r = v, g = t, b = p; break;
          case 1: r = q, g = v, b = p; break;
          case 2: r = p, g = v, b = t; break;
          case 3: r = p, g = q, b = v; break;
          case 4: r = t, g = p, b = v; break;
          default: r = v, g = p, b = q; break;
        }
        c.insert(c.end(), {float(r), float(g), float(b)});
        w.push_back((1 - v) / (ns * nh) + (1 - s) * v / nh + s * v);
      }
  rgb = torch::from_blob(c.data(), {long(w.size()), 3}, torch::kFloat).clone();
  bias = torch::from_blob(w.data(), {long(w.size())}, torch::kDouble).clone();
}

torch::Tensor label_probabilities(const torch::Tensor& rgb) {
  const auto x = rgb.to(torch::kDouble);
  const auto redness = x.select(1, 0) * (1 - x.select(1, 1) / 2 - x.select(1, 2) / 2);
  const auto vibrancy = std::get<0>(x.max(1)) - std::get<0>(x.min(1));
  return torch::stack({0.5 * redness.pow(10), 0.5 * vibrancy.pow(100), 0.5 * (1 - vibrancy).pow(10)}, 1)
      .to(torch::kFloat);
}

// sum(alpha l) / (sum(alpha) + 1e-8); undefined (skipped) when no sample is selected.
torch::Tensor selective(const torch::Tensor& per_sample, const torch::Tensor& alpha) {
  const auto total = alpha.sum();
  if (total.item<float>() == 0) return {};
  return (per_sample * (alpha / (total + 1e-8))).sum();
}

torch::Tensor unitarity(const torch::Tensor& z) { return (z.norm(2, {1}) - 1).pow(2); }

torch::Tensor angular_repulsion(const torch::Tensor& z) {
  const auto unit = z / (z.norm(2, {1}, true) + 1e-8);
  auto s = unit.mm(unit.t());
  s = s.masked_fill(torch::isclose(s, torch::ones_like(s)), 0.0);
  return s.pow(10).sum(1);
}

long arg(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], name)) return std::atol(argv[i + 1]);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int batch = int(arg(argc, argv, "--batch", 64)), threads = int(arg(argc, argv, "--threads", 1));
  const int min_steps = int(arg(argc, argv, "--steps", 1000)), warmup = int(arg(argc, argv, "--warmup", 20));
  // --seconds X: keep timing steps until X seconds have passed too (default 0: exactly --steps).
  double min_seconds = 0;
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--seconds")) min_seconds = std::atof(argv[i + 1]);
  const long seed = arg(argc, argv, "--seed", 0);
  bool full = true;
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--variant")) full = std::strcmp(argv[i + 1], "simple") != 0;

  torch::set_num_threads(threads);
  torch::manual_seed(seed);
  torch::Tensor rgb, bias;
  hsv_cube(rgb, bias);
  const torch::Tensor probs = label_probabilities(rgb);
  torch::nn::Sequential encoder(torch::nn::Linear(3, 16), torch::nn::GELU(), torch::nn::Linear(16, 4));
  torch::nn::Sequential decoder(torch::nn::Linear(4, 16), torch::nn::GELU(), torch::nn::Linear(16, 3),
                                torch::nn::Sigmoid());
  std::vector<torch::Tensor> params = encoder->parameters();
  for (const auto& p : decoder->parameters()) params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(0.01));
  const torch::Tensor red_axis = torch::tensor({1.0f, 0.0f, 0.0f, 0.0f});

  auto step = [&](int i) {
    double w[6];
    for (int c = 0; c < 6; ++c) w[c] = realized(kEx17[c], i);
    const double w_separate = w[1], w_planar = w[2], w_norm = w[3], w_norm_v = w[4], w_polar = w[5];
    for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(w[0]);
    const auto index = torch::multinomial(bias, batch, true);
    const auto x = rgb.index_select(0, index);
    const auto labels = (torch::rand({batch, 3}) < probs.index_select(0, index)).to(torch::kFloat);
    const auto z = encoder->forward(x);
    const auto out = decoder->forward(z);
    auto total = torch::mse_loss(out, x);
    const auto red = labels.select(1, 0), vibrant = labels.select(1, 1);
    if (full) {
      const auto term = selective((z - red_axis).pow(2).sum(1), red);
      if (term.defined()) total = total + w_polar * term;
    }
    total = total + w_separate * angular_repulsion(z).mean();
    if (full) {
      auto term = selective(z.slice(1, 2).pow(2).sum(1), vibrant);
      if (term.defined()) total = total + w_planar * term;
      term = selective(unitarity(z), vibrant);
      if (term.defined()) total = total + w_norm_v * term;
    }
    total = total + w_norm * unitarity(z).mean();
    if (!std::isfinite(total.item<float>())) {
      std::fprintf(stderr, "non-finite loss at step %d\n", i);
      std::exit(1);
    }
    opt.zero_grad();
    total.backward();
    opt.step();
  };

  for (int i = 0; i < warmup; ++i) step(i);
  const auto start = std::chrono::steady_clock::now();
  int i = warmup;
  double seconds = 0;
  while (i < warmup + min_steps || seconds < min_seconds) {
    step(i++);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const int steps = i - warmup;

  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a over the parameters' bytes
  for (const auto& p : params) {
    const auto c = p.detach().contiguous();
    const auto* bytes = static_cast<const unsigned char*>(c.data_ptr());
    for (long b = 0; b < long(c.numel() * c.element_size()); ++b) hash = (hash ^ bytes[b]) * 1099511628211ULL;
  }
  // The BLAS and the allocator this process actually mapped (from /proc/self/maps).
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> blas;
  bool tcmalloc = false;
  for (std::string line; std::getline(maps, line);) {
    const std::size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.substr(path.rfind('/')).find("blas") != std::string::npos) blas.insert(path);
    tcmalloc = tcmalloc || path.find("tcmalloc") != std::string::npos;
  }
  std::string blas_list;
  for (const std::string& b : blas) blas_list += (blas_list.empty() ? "" : ", ") + b;
  std::printf(
      "{\"side\": \"libtorch\", \"variant\": \"%s\", \"batch\": %d, \"threads\": %d, \"steps\": %d, "
      "\"warmup\": %d, \"seconds\": %.6f, \"steps_per_s\": %.3f, \"params_hash\": \"%016llx\", "
      "\"blas\": \"%s\", \"malloc\": \"%s\"}\n",
      full ? "full" : "simple", batch, threads, steps, warmup, seconds, steps / seconds, (unsigned long long)hash,
      blas.empty() ? "none" : blas_list.c_str(), tcmalloc ? "tcmalloc" : "glibc");
  return 0;
}
