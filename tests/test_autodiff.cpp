// Tests of autodiff/: golden values, a finite-difference gradient check of every op in double
// at several random points, broadcasting, shape errors, the tape's bookkeeping, and bitwise
// determinism across thread counts.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"

using namespace sg;
using Md = Matrix<double>;

namespace {

// Uniform entries in [lo, hi], redrawn while within `gap` of any point in `kinks`
// (finite differences are meaningless across a kink).
Md random_matrix(int rows, int cols, std::mt19937_64& rng, double lo = -2, double hi = 2,
                 std::vector<double> kinks = {}, double gap = 0.05) {
  std::uniform_real_distribution<double> u(lo, hi);
  Md m(rows, cols);
  for (long i = 0; i < m.size(); ++i) {
    double v;
    bool near;
    do {
      v = u(rng);
      near = false;
      for (double k : kinks) near = near || std::fabs(v - k) < gap;
    } while (near);
    m.data()[i] = v;
  }
  return m;
}

// Reduces an op's output to a scalar with fixed, uneven weights so that every output element
// gets its own gradient (a plain sum would hide errors that cancel).
Tensor<double> weighted_sum(Tensor<double> y) {
  Md w(y.rows(), y.cols());
  for (int i = 0; i < y.rows(); ++i)
    for (int j = 0; j < y.cols(); ++j) w(i, j) = std::sin(1.0 + 0.7 * i + 1.3 * j);
  return sum(y * y.tape().tensor(w));
}

using OpFn = std::function<Tensor<double>(const std::vector<Tensor<double>>&)>;

// Checks op at three random points; `make_inputs` draws the inputs of one point.
void check_op(const char* name, const OpFn& op,
              const std::function<std::vector<Md>(std::mt19937_64&)>& make_inputs,
              double rtol = 1e-6, double atol = 1e-8) {
  for (int seed = 0; seed < 3; ++seed) {
    std::mt19937_64 rng(1000 + seed);
    const GradCheckResult r = gradcheck(
        [&](Tape<double>&, const std::vector<Tensor<double>>& in) { return weighted_sum(op(in)); },
        make_inputs(rng), 1e-6, rtol, atol);
    INFO(std::string(name), " seed ", seed, ": ", r.describe());
    CHECK(r.ok);
    CHECK(r.entries > 0);
  }
}

auto inputs(std::vector<std::pair<int, int>> shapes, double lo = -2, double hi = 2,
            std::vector<double> kinks = {}, double gap = 0.05) {
  return [=](std::mt19937_64& rng) {
    std::vector<Md> v;
    for (auto [r, c] : shapes) v.push_back(random_matrix(r, c, rng, lo, hi, kinks, gap));
    return v;
  };
}

}  // namespace

TEST_CASE("micrograd golden: test_sanity_check") {
  Tape<double> tape;
  Tensor<double> x = tape.scalar(-4.0, true);
  Tensor<double> z = 2.0 * x + 2.0 + x;
  Tensor<double> q = relu(z) + z * x;
  Tensor<double> h = relu(z * z);
  Tensor<double> y = h + q + q * x;
  tape.backward(y);
  CHECK(y.item() == doctest::Approx(-20.0).epsilon(1e-12));
  CHECK(x.grad()(0, 0) == doctest::Approx(46.0).epsilon(1e-12));
}

TEST_CASE("micrograd golden: test_more_ops") {
  Tape<double> tape;
  Tensor<double> a = tape.scalar(-4.0, true);
  Tensor<double> b = tape.scalar(2.0, true);
  Tensor<double> c = a + b;
  Tensor<double> d = a * b + pow(b, 3.0);
  c = c + (c + 1.0);
  c = c + (1.0 + c + (-a));
  d = d + (d * 2.0 + relu(b + a));
  d = d + (3.0 * d + relu(b - a));
  Tensor<double> e = c - d;
  Tensor<double> f = pow(e, 2.0);
  Tensor<double> g = f / 2.0;
  g = g + 10.0 / f;
  tape.backward(g);
  CHECK(g.item() == doctest::Approx(24.70408163265306).epsilon(1e-12));
  CHECK(a.grad()(0, 0) == doctest::Approx(138.83381924198252).epsilon(1e-12));
  CHECK(b.grad()(0, 0) == doctest::Approx(645.5772594752186).epsilon(1e-12));
}

TEST_CASE("gradcheck: elementwise binary ops with every broadcast form") {
  const std::vector<std::pair<int, int>> b_shapes = {{4, 3}, {1, 3}, {4, 1}, {1, 1}};
  for (auto bs : b_shapes) {
    CAPTURE(bs.first);
    CAPTURE(bs.second);
    check_op("add", [](auto& in) { return in[0] + in[1]; }, inputs({{4, 3}, bs}));
    check_op("sub", [](auto& in) { return in[0] - in[1]; }, inputs({{4, 3}, bs}));
    check_op("mul", [](auto& in) { return in[0] * in[1]; }, inputs({{4, 3}, bs}));
    check_op("sub (broadcast on the left)", [](auto& in) { return in[1] - in[0]; }, inputs({{4, 3}, bs}));
    check_op("div", [](auto& in) { return in[0] / in[1]; }, inputs({{4, 3}, bs}, 0.5, 2.0));
    check_op("div (broadcast on the left)", [](auto& in) { return in[1] / in[0]; },
             inputs({{4, 3}, bs}, 0.5, 2.0));
  }
  check_op("mul (same tensor twice)", [](auto& in) { return in[0] * in[0]; }, inputs({{3, 3}}));
  check_op("row (1,C) with column (R,1)", [](auto& in) { return in[0] * in[1]; }, inputs({{1, 3}, {4, 1}}));
}

TEST_CASE("gradcheck: scalar forms and negation") {
  auto in = inputs({{3, 4}}, 0.5, 2.0);
  check_op("a + s", [](auto& v) { return v[0] + 2.5; }, in);
  check_op("s - a", [](auto& v) { return 2.5 - v[0]; }, in);
  check_op("a * s", [](auto& v) { return v[0] * -1.5; }, in);
  check_op("a / s", [](auto& v) { return v[0] / 4.0; }, in);
  check_op("s / a", [](auto& v) { return 5.0 / v[0]; }, in);
  check_op("-a", [](auto& v) { return -v[0]; }, in);
  check_op("affine", [](auto& v) { return affine(v[0], 0.3, -7.0); }, in);
}

TEST_CASE("gradcheck: matmul in all four transposed forms, and transpose") {
  check_op("a b", [](auto& in) { return matmul(in[0], in[1]); }, inputs({{4, 3}, {3, 5}}));
  check_op("a b^T", [](auto& in) { return matmul(in[0], in[1], false, true); }, inputs({{4, 3}, {5, 3}}));
  check_op("a^T b", [](auto& in) { return matmul(in[0], in[1], true, false); }, inputs({{3, 4}, {3, 5}}));
  check_op("a^T b^T", [](auto& in) { return matmul(in[0], in[1], true, true); }, inputs({{3, 4}, {5, 3}}));
  check_op("a a^T", [](auto& in) { return matmul(in[0], in[0], false, true); }, inputs({{4, 3}}));
  check_op("transpose", [](auto& in) { return transpose(in[0]); }, inputs({{4, 3}}));
}

TEST_CASE("gradcheck: reductions") {
  auto in = inputs({{5, 3}});
  check_op("sum", [](auto& v) { return sum(v[0]); }, in);
  check_op("mean", [](auto& v) { return mean(v[0]); }, in);
  check_op("row_sum", [](auto& v) { return row_sum(v[0]); }, in);
  check_op("row_mean", [](auto& v) { return row_mean(v[0]); }, in);
  check_op("col_sum", [](auto& v) { return col_sum(v[0]); }, in);
  check_op("col_mean", [](auto& v) { return col_mean(v[0]); }, in);
}

TEST_CASE("gradcheck: elementwise functions") {
  check_op("exp", [](auto& v) { return exp(v[0]); }, inputs({{3, 4}}));
  check_op("log", [](auto& v) { return log(v[0]); }, inputs({{3, 4}}, 0.2, 3.0));
  check_op("sqrt", [](auto& v) { return sqrt(v[0]); }, inputs({{3, 4}}, 0.2, 3.0));
  for (double p : {2.0, 3.0, 10.0, -1.0, -2.0}) {
    CAPTURE(p);
    check_op("pow (integer)", [p](auto& v) { return pow(v[0], p); }, inputs({{3, 4}}, -1.5, 1.5, {0.0}, 0.2));
  }
  check_op("pow 100", [](auto& v) { return pow(v[0], 100.0); }, inputs({{3, 4}}, 0.9, 1.02));
  check_op("pow 0.5", [](auto& v) { return pow(v[0], 0.5); }, inputs({{3, 4}}, 0.2, 3.0));
  check_op("pow 2.7", [](auto& v) { return pow(v[0], 2.7); }, inputs({{3, 4}}, 0.2, 3.0));
  check_op("abs", [](auto& v) { return abs(v[0]); }, inputs({{3, 4}}, -2, 2, {0.0}));
  check_op("relu", [](auto& v) { return relu(v[0]); }, inputs({{3, 4}}, -2, 2, {0.0}));
  check_op("gelu", [](auto& v) { return gelu(v[0]); }, inputs({{3, 4}}, -4, 4));
  check_op("sigmoid", [](auto& v) { return sigmoid(v[0]); }, inputs({{3, 4}}, -6, 6));
  check_op("tanh", [](auto& v) { return tanh(v[0]); }, inputs({{3, 4}}, -3, 3));
  check_op("clamp", [](auto& v) { return clamp(v[0], -0.5, 0.7); }, inputs({{3, 4}}, -2, 2, {-0.5, 0.7}));
}

TEST_CASE("gradcheck: row geometry") {
  check_op("row_norm", [](auto& v) { return row_norm(v[0]); }, inputs({{5, 4}}));
  check_op("normalize_rows", [](auto& v) { return normalize_rows(v[0]); }, inputs({{5, 4}}));
  check_op("normalize_rows eps 0.1", [](auto& v) { return normalize_rows(v[0], 0.1); }, inputs({{5, 4}}));
  check_op("cosine_similarity", [](auto& v) { return cosine_similarity(v[0]); }, inputs({{6, 4}}));
  check_op("pow(cosine_similarity, 10)", [](auto& v) { return pow(cosine_similarity(v[0]), 10.0); },
           inputs({{6, 4}}));
}

TEST_CASE("gradcheck: slicing, concatenation, gather, masking") {
  check_op("slice_cols", [](auto& v) { return slice_cols(v[0], 1, 2); }, inputs({{4, 4}}));
  check_op("concat_cols", [](auto& v) { return concat_cols(v[0], v[1]); }, inputs({{4, 2}, {4, 3}}));
  static const int index[] = {2, 0, 2, 3, 2};
  check_op("gather_rows (repeated rows)", [](auto& v) { return gather_rows(v[0], index, 5); },
           inputs({{4, 3}}));
  check_op("mask by a constant", [](auto& v) {
    Md m(3, 4);
    m << 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0;
    return v[0] * v[0].tape().tensor(m);
  }, inputs({{3, 4}}));
}

TEST_CASE("gradcheck: a two-layer MLP, end to end") {
  check_op("mlp", [](auto& v) {
    Tensor<double> h = gelu(matmul(v[0], v[1], false, true) + v[2]);
    return sigmoid(matmul(h, v[3], false, true) + v[4]);
  }, inputs({{6, 3}, {5, 3}, {1, 5}, {2, 5}, {1, 2}}));
}

TEST_CASE("values of the primitives") {
  Tape<double> tape;
  Md m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  Tensor<double> a = tape.tensor(m);
  CHECK(sum(a).item() == 21);
  CHECK(mean(a).item() == 3.5);
  CHECK(row_sum(a).value()(1, 0) == 15);
  CHECK(col_mean(a).value()(0, 2) == 4.5);
  CHECK(matmul(a, a, false, true).value()(0, 1) == 32);
  CHECK(transpose(a).value()(2, 1) == 6);
  CHECK(concat_cols(a, a).value()(1, 4) == 5);
  CHECK(slice_cols(a, 1, 2).value()(1, 0) == 5);
  CHECK(row_norm(a).value()(0, 0) == doctest::Approx(std::sqrt(14.0)));
  CHECK(gelu(tape.scalar(1.0)).item() == doctest::Approx(0.8413447460685429).epsilon(1e-14));
  Md c(1, 2);
  c << 3, -4;
  CHECK(cosine_similarity(tape.tensor(c)).item() == doctest::Approx(25.0 / ((5.0 + 1e-8) * (5.0 + 1e-8))).epsilon(1e-15));
}

TEST_CASE("integer powers are exact") {
  Tape<float> tape;
  Matrix<float> m(1, 4);
  m << 2.0f, -1.5f, 0.5f, -2.0f;
  Tensor<float> x = tape.tensor(m);
  CHECK(pow(x, 10.0).value()(0, 0) == 1024.0f);
  CHECK(pow(x, 3.0).value()(0, 1) == -3.375f);
  CHECK(pow(x, 100.0).value()(0, 2) == std::ldexp(1.0f, -100));
  CHECK(pow(x, 3.0).value()(0, 3) == -8.0f);
  CHECK(pow(x, -1.0).value()(0, 2) == 2.0f);
  // A non-representable base still matches the correctly rounded double result within float.
  Tape<double> t64;
  Tensor<double> y = pow(t64.scalar(0.9), 100.0);
  CHECK(y.item() == doctest::Approx(std::pow(0.9, 100)).epsilon(1e-14));
}

TEST_CASE("shape mismatches name the op and both shapes") {
  Tape<float> tape;
  Tensor<float> a = tape.tensor(4, 3), b = tape.tensor(2, 3), c = tape.tensor(5, 2);
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const ShapeError& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  CHECK(message([&] { mul(a, b); }) == "mul: shapes (4,3) and (2,3) do not broadcast");
  CHECK(message([&] { matmul(a, c); }) == "matmul: inner dimensions differ: (4,3) x (5,2)");
  CHECK(message([&] { matmul(a, c, false, true); }) == "matmul: inner dimensions differ: (4,3) x (5,2)^T");
  CHECK(message([&] { concat_cols(a, c); }) == "concat_cols: row counts differ: (4,3) and (5,2)");
  CHECK(message([&] { slice_cols(a, 2, 2); }) == "slice_cols: columns [2, 4) out of range for shape (4,3)");
  const int bad[] = {0, 4};
  CHECK(message([&] { gather_rows(a, bad, 2); }) == "gather_rows: index[1] = 4 is out of range for shape (4,3)");
  CHECK(message([&] { tape.backward(a); }) == "backward: the loss must be 1x1, got (4,3)");
}

TEST_CASE("no_grad and requires_grad: nothing is recorded for backward") {
  Tape<double> tape;
  Tensor<double> w = tape.scalar(3.0, true);
  Tensor<double> x = tape.scalar(2.0);  // requires_grad false
  CHECK_FALSE((x * x).requires_grad());
  CHECK((w * x).requires_grad());
  {
    NoGrad<double> guard(tape);
    Tensor<double> y = w * x;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.item() == 6.0);
    CHECK_THROWS_AS(tape.backward(y), std::logic_error);
  }
  CHECK(tape.grad_enabled());
  CHECK_THROWS_AS(x.grad(), std::logic_error);
}

TEST_CASE("gradients accumulate until zero_grad; intermediate gradients do not") {
  Tape<double> tape;
  Tensor<double> w = tape.scalar(3.0, true);
  Tensor<double> loss = pow(w, 2.0) * 0.5;  // d/dw = w
  tape.backward(loss);
  CHECK(w.grad()(0, 0) == 3.0);
  tape.backward(loss);
  CHECK(w.grad()(0, 0) == 6.0);
  tape.zero_grad();
  CHECK(w.grad()(0, 0) == 0.0);
  tape.backward(loss);
  CHECK(w.grad()(0, 0) == 3.0);
}

TEST_CASE("mark and rewind release the step and reuse its memory") {
  Tape<float> tape(4096);  // small blocks, so that a step spans several
  Tensor<float> w = tape.tensor(16, 16, true);
  w.value().setConstant(0.01f);
  const auto mark = tape.mark();
  std::size_t arena_after_first = 0;
  for (int step = 0; step < 5; ++step) {
    Tensor<float> x = tape.tensor(64, 16);
    x.value().setConstant(1.0f);
    Tensor<float> loss = mean(gelu(matmul(x, w)));
    tape.backward(loss);
    CHECK(tape.size() > mark.nodes);
    tape.rewind(mark);
    CHECK(tape.size() == mark.nodes);
    if (step == 0) arena_after_first = tape.arena_bytes();
    CHECK(tape.arena_bytes() == arena_after_first);
  }
  CHECK(w.grad()(0, 0) != 0.0f);
  CHECK_THROWS_AS(Tensor<float>(&tape, int(mark.nodes)).value(), std::logic_error);
}

namespace {

// A workload big enough that every kernel takes its parallel path: large matmuls, elementwise
// functions, row/column/total reductions, a 1024 x 1024 cosine-similarity matrix.
std::vector<float> big_step(int threads) {
  set_num_threads(threads);
  std::mt19937_64 rng(7);
  std::normal_distribution<float> n01;
  auto randm = [&](int r, int c) {
    Matrix<float> m(r, c);
    for (long i = 0; i < m.size(); ++i) m.data()[i] = n01(rng) * 0.3f;
    return m;
  };
  Tape<float> tape;
  Tensor<float> x = tape.tensor(randm(1024, 64));
  Tensor<float> w1 = tape.tensor(randm(128, 64), true), b1 = tape.tensor(randm(1, 128), true);
  Tensor<float> w2 = tape.tensor(randm(8, 128), true);
  Tensor<float> h = gelu(matmul(x, w1, false, true) + b1);
  Tensor<float> z = matmul(h, w2, false, true);
  Tensor<float> rep = mean(pow(cosine_similarity(z), 10.0));
  Tensor<float> unit = mean(pow(row_norm(z) - 1.0, 2.0));
  Tensor<float> cols = sum(pow(col_mean(h), 2.0));
  Tensor<float> loss = rep + unit + cols + mean(sigmoid(h) * tanh(h));
  tape.backward(loss);
  std::vector<float> out = {loss.item()};
  for (Tensor<float> p : {w1, b1, w2}) out.insert(out.end(), p.grad().data(), p.grad().data() + p.size());
  set_num_threads(2);
  return out;
}

}  // namespace

TEST_CASE("determinism: bitwise identical results at 1, 2 and 3 threads") {
  const std::vector<float> one = big_step(1), two = big_step(2), three = big_step(3);
  REQUIRE(one.size() == two.size());
  CHECK(std::isfinite(one[0]));
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)) == 0);
}

namespace {

// An op defined outside autodiff/, as the loss library does: y_i = sum_j x_ij^2 (R,1),
// dx_ij = 2 g_i x_ij.
struct RowSumSq {
  static constexpr const char* name = "row_sum_sq";
  static void backward(Tape<double>& tape, const Node<double>& y) {
    const Node<double>& x = tape.node(y.a);
    for (int i = 0; i < x.rows; ++i)
      for (int j = 0; j < x.cols; ++j) x.grad[i * x.cols + j] += 2 * y.grad[i] * x.value[i * x.cols + j];
  }
};

Tensor<double> row_sum_sq(Tensor<double> a) {
  Tape<double>& tape = a.tape();
  const int id = tape.record(op_kind<RowSumSq>, a.rows(), 1, a.id());
  Node<double>& y = tape.node(id);
  for (int i = 0; i < a.rows(); ++i) y.value[i] = a.value().row(i).squaredNorm();
  return {&tape, id};
}

}  // namespace

TEST_CASE("gradcheck: a custom (fused) op with its own backward") {
  check_op("custom row_sum_sq", [](auto& v) { return row_sum_sq(v[0]); }, inputs({{5, 3}}));
}
