// autodiff/gradcheck.hpp -- finite-difference gradient checking, in double.
//
// Contract: gradcheck(f, inputs) builds f on a fresh Tape<double> from leaves holding `inputs`,
// runs backward, and compares every analytic partial derivative with the central difference
// (f(x + h) - f(x - h)) / 2h. An entry passes when |analytic - numeric| <= atol + rtol * max(|a|, |n|).
// The result names the worst entry, so a failing test says where to look. Pick points away from
// kinks (relu at 0, abs at 0, clamp bounds): there the two one-sided slopes differ.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "autodiff/tensor.hpp"

namespace sg {

struct GradCheckResult {
  bool ok = true;
  double max_abs_error = 0, max_rel_error = 0;
  int worst_input = -1;
  long worst_index = -1;
  double worst_analytic = 0, worst_numeric = 0;
  int entries = 0;

  std::string describe() const {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s: %d entries, worst input %d entry %ld: analytic %.10g numeric %.10g (abs err %.3g, "
                  "rel err %.3g)",
                  ok ? "ok" : "MISMATCH", entries, worst_input, worst_index, worst_analytic,
                  worst_numeric, max_abs_error, max_rel_error);
    return buf;
  }
};

using GradCheckFn = std::function<Tensor<double>(Tape<double>&, const std::vector<Tensor<double>>&)>;

inline GradCheckResult gradcheck(const GradCheckFn& f, const std::vector<Matrix<double>>& inputs,
                                 double h = 1e-6, double rtol = 1e-6, double atol = 1e-8) {
  Tape<double> tape;
  std::vector<Tensor<double>> leaves;
  for (const Matrix<double>& m : inputs) leaves.push_back(tape.tensor(m, true));
  const Tape<double>::Mark mark = tape.mark();

  Tensor<double> loss = f(tape, leaves);
  tape.backward(loss);
  std::vector<Matrix<double>> analytic;
  for (const Tensor<double>& t : leaves) analytic.emplace_back(t.grad());

  auto evaluate = [&] {
    tape.rewind(mark);
    const double v = f(tape, leaves).item();
    return v;
  };
  GradCheckResult r;
  double worst_score = -1;
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    double* x = leaves[k].data();
    for (long i = 0; i < leaves[k].size(); ++i) {
      const double saved = x[i];
      x[i] = saved + h;
      const double up = evaluate();
      x[i] = saved - h;
      const double down = evaluate();
      x[i] = saved;
      const double numeric = (up - down) / (2 * h);
      const double a = analytic[k].data()[i];
      const double abs_err = std::fabs(a - numeric);
      const double scale = std::max(std::fabs(a), std::fabs(numeric));
      const double rel_err = scale > 0 ? abs_err / scale : 0;
      const bool pass = abs_err <= atol + rtol * scale;
      // Report the entry that misses its tolerance by the widest margin.
      const double score = abs_err / (atol + rtol * scale);
      if (score > worst_score) {
        worst_score = score;
        r.worst_input = int(k);
        r.worst_index = i;
        r.worst_analytic = a;
        r.worst_numeric = numeric;
      }
      r.max_abs_error = std::max(r.max_abs_error, abs_err);
      r.max_rel_error = std::max(r.max_rel_error, rel_err);
      r.ok = r.ok && pass && std::isfinite(a);
      ++r.entries;
    }
  }
  tape.rewind(mark);
  return r;
}

}  // namespace sg
