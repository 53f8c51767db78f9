// autodiff/tensor.hpp -- the tape and the tensor handle.
//
// Contract:
// - A Tape<T> records operations in creation order (a Wengert list). Creation order is already a
//   topological order, so backward(loss) is a single reverse loop over the list.
// - Every node owns a whole 2-D row-major matrix: its value, and its gradient when it needs one.
//   Both live in the tape's arena (a few large blocks), never in per-node heap allocations.
// - Tensor<T> is a {tape, id} handle; copying one copies no data.
// - mark()/rewind(mark): create the parameters first, take a mark, and rewind to it after every
//   training step. Nodes and buffers above the mark are released at once and their memory is
//   reused by the next step, so a step allocates nothing once the arena has grown to fit it.
// - T is float (the default, for speed) or double (gradient checks, or users who want it).
#pragma once

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace sg {

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<Matrix<T>>;

// Thrown when operand shapes do not fit an op; the message names the op and both shapes.
struct ShapeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// The op that produced a node: backward() switches on it (no virtual calls, no std::function).
enum class Op : std::uint8_t {
  Leaf, Add, Sub, Mul, Div, Affine, MatMul, Transpose, Sum, RowSum, ColSum,
  Exp, Log, Sqrt, Pow, Abs, Relu, Gelu, Sigmoid, Tanh, Clamp,
  RowNorm, NormalizeRows, SliceCols, ConcatCols, GatherRows,
  Custom,  // a fused kernel defined outside autodiff/: backward through Node::custom_backward
};
const char* op_name(Op op);

template <class T>
class Tape;

template <class T>
struct Node {
  T* value = nullptr;
  T* grad = nullptr;          // null unless requires_grad
  const void* aux = nullptr;  // op-specific saved data (row norms, gather indices)
  int rows = 0, cols = 0;
  int a = -1, b = -1;         // input node ids, -1 when unused
  Op op = Op::Leaf;
  bool requires_grad = false;
  int iarg = 0;               // op integer argument (slice start, matmul transpose flags)
  T s0 = 0, s1 = 0;           // op scalar arguments (scale/shift, exponent, clamp bounds)
  // Op::Custom only: adds this node's input gradients, like the backward functions of ops.cpp.
  void (*custom_backward)(Tape<T>& tape, const Node<T>& y) = nullptr;
};

template <class T>
class Tensor {
 public:
  Tensor() = default;
  Tensor(Tape<T>* tape, int id) : tape_(tape), id_(id) {}

  Tape<T>& tape() const { return *tape_; }
  int id() const { return id_; }
  const Node<T>& node() const;
  int rows() const { return node().rows; }
  int cols() const { return node().cols; }
  long size() const { return long(node().rows) * node().cols; }
  bool requires_grad() const { return node().requires_grad; }

  T* data() const { return node().value; }
  MatrixMap<T> value() const { return {node().value, rows(), cols()}; }
  MatrixMap<T> grad() const;  // throws if the tensor has no gradient
  T item() const;             // the value of a 1x1 tensor

 private:
  Tape<T>* tape_ = nullptr;
  int id_ = -1;
};

template <class T>
class Tape {
 public:
  // block_bytes: size of each arena block; a larger request gets a block of its own size.
  explicit Tape(std::size_t block_bytes = std::size_t(1) << 20);
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // Leaves: tensors no op produced (parameters, inputs, constants). Zero-filled or copied.
  Tensor<T> tensor(int rows, int cols, bool requires_grad = false);
  Tensor<T> tensor(const Matrix<T>& m, bool requires_grad = false);
  Tensor<T> scalar(T v, bool requires_grad = false);

  struct Mark {
    std::size_t nodes, block, offset;
  };
  Mark mark() const { return {nodes_.size(), block_, offset_}; }
  void rewind(const Mark& m);

  // Reverse sweep from a 1x1 loss. Leaf gradients accumulate across calls (zero them with
  // zero_grad); the gradients of intermediate nodes are recomputed from zero each call.
  void backward(const Tensor<T>& loss);
  // Zeroes the gradient of every leaf that has one.
  void zero_grad();

  bool grad_enabled() const { return grad_enabled_; }
  std::size_t size() const { return nodes_.size(); }
  std::size_t arena_bytes() const;  // memory reserved by the arena
  const Node<T>& node(int id) const { return nodes_[id]; }
  Node<T>& node(int id) { return nodes_[id]; }

  // For op implementations: append a node of the given shape whose value buffer is
  // uninitialized; it gets a gradient buffer when gradients are enabled and an input needs
  // one (backward() zeroes it before the sweep).
  int record(Op op, int rows, int cols, int a = -1, int b = -1);
  // Scratch memory that lives until the next rewind below this point.
  template <class U>
  U* alloc(std::size_t n) {
    return static_cast<U*>(alloc_bytes(n * sizeof(U)));
  }

 private:
  template <class U>
  friend class NoGrad;
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  struct Block {
    std::unique_ptr<std::byte, FreeDeleter> data;
    std::size_t size;
  };
  void* alloc_bytes(std::size_t bytes);

  std::vector<Node<T>> nodes_;
  std::vector<Block> blocks_;
  std::size_t block_ = 0, offset_ = 0;  // the arena's fill point
  std::size_t block_bytes_;
  bool grad_enabled_ = true;
};

// RAII guard: ops created while it lives record no backward information (like torch.no_grad).
template <class T>
class NoGrad {
 public:
  explicit NoGrad(Tape<T>& tape) : tape_(tape), previous_(tape.grad_enabled_) {
    tape.grad_enabled_ = false;
  }
  ~NoGrad() { tape_.grad_enabled_ = previous_; }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  Tape<T>& tape_;
  bool previous_;
};

template <class T>
const Node<T>& Tensor<T>::node() const {
  if (!tape_ || id_ < 0 || std::size_t(id_) >= tape_->size())
    throw std::logic_error("tensor handle is empty or was released by Tape::rewind");
  return tape_->node(id_);
}

// Sets the number of OpenMP threads used by every kernel (results do not depend on it).
void set_num_threads(int n);
int num_threads();

}  // namespace sg
