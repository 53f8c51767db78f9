// examples/experiment/probes.cpp -- what a run measures of itself besides training: the gradient
// probes (`spheregrad compare --probe-every`) and the organization loss models are selected by
// (docs/paper.md). Both read the run's terms, as train.cpp's step does.
#include <cmath>
#include <optional>

#include "examples/color/color.hpp"
#include "examples/experiment/run.hpp"
#include "losses/losses.hpp"

namespace sg::train {

// The organization loss the paper selects models by: every anchor, subspace and planarity term
// of the experiment (plain, anti- or selective) on the RGB 8^3 validation cube, a selective term
// over the colors that carry its labels exactly (color::LabelRule::exact), each term its mean over
// the colors it acts on, unweighted, summed over the terms. NaN without such a term.
double Run::organization_validation() {
  const color::ColorSet cube = color::rgb_cube(8);
  const auto mark = tape_.mark();
  NoGrad<float> no_grad(tape_);
  const Tensor<float> z = model_.encoder.forward(tape_.tensor(cube.rgb));
  loss::Labels exact;
  for (const color::LabelRule& rule : rules_)
    for (long i = 0; i < cube.rgb.rows(); ++i) exact[rule.name].push_back(rule.exact(cube.rgb.row(i).data()));
  double sum = 0;
  bool any = false;
  for (const BoundRegularizer& r : regs_) {
    const TermKind k = r.spec->kind;
    if (k != TermKind::Anchor && k != TermKind::AngularAnchor && k != TermKind::AntiAnchor &&
        k != TermKind::Subspace && k != TermKind::Planarity)
      continue;
    const std::optional<Tensor<float>> term =
        r.spec->affinities.empty() ? std::optional(mean(per_sample_term(r, z)))
                                   : loss::weighted_mean(per_sample_term(r, z),
                                                         loss::selection_weights(tape_, r.spec->affinities, exact,
                                                                                 int(cube.rgb.rows())));
    if (term) sum += term->item(), any = true;
  }
  tape_.rewind(mark);
  return any ? sum : NAN;
}

// The gradient of one weighted term with respect to the latents it acts on, split into radial
// and tangential parts, averaged over the rows the term acts on: those with a non-zero
// per-sample weight `alpha` (every row when null), so a selective term on one sample of 64 reads
// its own gradient, not 1/64 of it. Runs its own backward pass; parameter gradients are zeroed
// afterwards.
void Run::probe(int step, const std::string& term, double weight, double raw, Tensor<float> weighted,
                Tensor<float> z, const float* alpha) {
  tape_.backward(weighted);
  const Matrix<float> g = z.grad(), zv = z.value();
  const loss::GradientParts<float> parts = loss::split_gradient<float>(zv, g);
  GradientProbe p{step, term, weight, raw};
  for (long i = 0; i < zv.rows(); ++i) {
    if (alpha && alpha[i] == 0) continue;
    const double norm = zv.row(i).cast<double>().norm();
    p.radial += norm > 0 ? zv.row(i).cast<double>().dot(g.row(i).cast<double>()) / norm : 0.0;
    p.radial_abs += parts.radial.row(i).cast<double>().norm();
    p.tangential_abs += parts.tangential.row(i).cast<double>().norm();
    p.radial_cosine += parts.cosine[i];
    ++p.rows;
  }
  const double n = double(p.rows);
  p.radial /= n, p.radial_abs /= n, p.tangential_abs /= n, p.radial_cosine /= n;
  probes_.push_back(p);
}

}  // namespace sg::train
