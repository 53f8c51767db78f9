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
#include <type_traits>
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

template <class T>
class Tape;
template <class T>
struct Node;

// What an op is to the tape: its name, and its backward, which adds d(loss)/d(input) into each
// input's gradient given the node's own. Every op -- built in (ops.cpp) or written elsewhere (the
// fused repulsion, examples/tutorials/softplus.cpp) -- is one struct with a `name`, a forward
// that records a node of kind op_kind<Op>, and a static `backward`. The reverse sweep calls it
// through this one function pointer: no enum, no switch, no virtual call.
template <class T>
struct OpKind {
  const char* name;
  void (*backward)(Tape<T>& tape, const Node<T>& y);
};
template <class T>
T scalar_of(void (*)(Tape<T>&, const Node<T>&));  // the T of a backward function (never defined)
template <class Op>
inline constexpr OpKind<decltype(scalar_of(&Op::backward))> op_kind{Op::name, &Op::backward};

template <class T>
struct Node {
  T* value = nullptr;
  T* grad = nullptr;  // null unless the node needs a gradient
  const OpKind<T>* kind = nullptr;  // null for a leaf (a tensor no op produced)
  int rows = 0, cols = 0;
  int a = -1, b = -1;  // input node ids, -1 when unused

  bool requires_grad() const { return grad != nullptr; }
  const char* op_name() const { return kind ? kind->name : "leaf"; }
  // The op's saved arguments and state, as the op's own small struct (a matmul's transpose
  // flags, a clamp's bounds, a pointer to saved row norms), kept inside the node.
  template <class S>
  S& saved() {
    static_assert(sizeof(S) <= sizeof(saved_) && alignof(S) <= 8 &&
                  std::is_trivially_copyable_v<S>);
    return *reinterpret_cast<S*>(saved_);
  }
  template <class S>
  const S& saved() const {
    return const_cast<Node*>(this)->saved<S>();
  }

 private:
  alignas(8) unsigned char saved_[32] = {};
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
  bool requires_grad() const { return node().requires_grad(); }

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

  // For op implementations: append a node of the given kind and shape whose value buffer is
  // uninitialized; it gets a gradient buffer when gradients are enabled and an input needs
  // one (backward() zeroes it before the sweep).
  int record(const OpKind<T>& kind, int rows, int cols, int a = -1, int b = -1);
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
  int push(const OpKind<T>* kind, int rows, int cols, int a, int b, bool with_grad);

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
