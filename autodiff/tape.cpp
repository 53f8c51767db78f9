// autodiff/tape.cpp -- the arena, node recording, mark/rewind and the reverse sweep.
#include "autodiff/tensor.hpp"

#include <omp.h>

#include <cstdlib>
#include <cstring>

namespace sg {

void set_num_threads(int n) { omp_set_num_threads(n < 1 ? 1 : n); }
int num_threads() { return omp_get_max_threads(); }

template <class T>
MatrixMap<T> Tensor<T>::grad() const {
  const Node<T>& n = node();
  if (!n.grad) throw std::logic_error("grad(): this tensor does not require a gradient");
  return {n.grad, n.rows, n.cols};
}

template <class T>
T Tensor<T>::item() const {
  const Node<T>& n = node();
  if (n.rows != 1 || n.cols != 1)
    throw ShapeError("item(): expected a 1x1 tensor, got (" + std::to_string(n.rows) + "," +
                     std::to_string(n.cols) + ")");
  return n.value[0];
}

template <class T>
void Tape<T>::FreeDeleter::operator()(void* p) const {
  std::free(p);
}

template <class T>
Tape<T>::Tape(std::size_t block_bytes) : block_bytes_(block_bytes) {
  nodes_.reserve(1024);
}

// Bump allocation with 64-byte alignment (one cache line, one AVX-512 vector). When the current
// block is full, move on to the next block -- reusing blocks left from before a rewind -- and
// allocate a new one only when none fits. Pointers stay valid until a rewind releases them.
template <class T>
void* Tape<T>::alloc_bytes(std::size_t bytes) {
  bytes = (bytes + 63) & ~std::size_t(63);
  while (block_ < blocks_.size()) {
    if (offset_ + bytes <= blocks_[block_].size) {
      void* p = blocks_[block_].data.get() + offset_;
      offset_ += bytes;
      return p;
    }
    if (block_ + 1 == blocks_.size()) break;
    ++block_;
    offset_ = 0;
  }
  const std::size_t size = std::max(bytes, block_bytes_);
  void* mem = std::aligned_alloc(64, size);
  if (!mem) throw std::bad_alloc();
  // A fresh block goes right after the current one so that blocks keep their order of use.
  const std::size_t at = blocks_.empty() ? 0 : block_ + 1;
  blocks_.insert(blocks_.begin() + long(at), Block{std::unique_ptr<std::byte, FreeDeleter>(
                                                       static_cast<std::byte*>(mem)),
                                                   size});
  block_ = at;
  offset_ = bytes;
  return mem;
}

template <class T>
std::size_t Tape<T>::arena_bytes() const {
  std::size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  return total;
}

template <class T>
int Tape<T>::record(const OpKind<T>& kind, int rows, int cols, int a, int b) {
  if (rows < 0 || cols < 0)
    throw ShapeError(std::string(kind.name) + ": negative shape (" + std::to_string(rows) + "," +
                     std::to_string(cols) + ")");
  const bool needs_grad = grad_enabled_ && ((a >= 0 && nodes_[a].grad) || (b >= 0 && nodes_[b].grad));
  return push(&kind, rows, cols, a, b, needs_grad);
}

template <class T>
int Tape<T>::push(const OpKind<T>* kind, int rows, int cols, int a, int b, bool with_grad) {
  Node<T> n;
  n.kind = kind;
  n.rows = rows;
  n.cols = cols;
  n.a = a;
  n.b = b;
  const std::size_t count = std::size_t(rows) * std::size_t(cols);
  n.value = alloc<T>(count);
  if (with_grad) n.grad = alloc<T>(count);  // zeroed by backward() or, for a leaf, by tensor()
  nodes_.push_back(n);
  return int(nodes_.size()) - 1;
}

template <class T>
Tensor<T> Tape<T>::tensor(int rows, int cols, bool requires_grad) {
  if (rows < 0 || cols < 0)
    throw ShapeError("tensor: negative shape (" + std::to_string(rows) + "," + std::to_string(cols) + ")");
  const int id = push(nullptr, rows, cols, -1, -1, requires_grad);
  Node<T>& n = nodes_[id];
  std::memset(n.value, 0, std::size_t(rows) * cols * sizeof(T));
  if (n.grad) std::memset(n.grad, 0, std::size_t(rows) * cols * sizeof(T));
  return {this, id};
}

template <class T>
Tensor<T> Tape<T>::tensor(const Matrix<T>& m, bool requires_grad) {
  Tensor<T> t = tensor(int(m.rows()), int(m.cols()), requires_grad);
  t.value() = m;
  return t;
}

template <class T>
Tensor<T> Tape<T>::scalar(T v, bool requires_grad) {
  Tensor<T> t = tensor(1, 1, requires_grad);
  t.data()[0] = v;
  return t;
}

template <class T>
void Tape<T>::rewind(const Mark& m) {
  if (m.nodes > nodes_.size()) throw std::logic_error("Tape::rewind: mark is above the tape's end");
  nodes_.resize(m.nodes);
  block_ = m.block;
  offset_ = m.offset;
}

template <class T>
void Tape<T>::backward(const Tensor<T>& loss) {
  const Node<T>& out = loss.node();
  if (out.rows != 1 || out.cols != 1)
    throw ShapeError("backward: the loss must be 1x1, got (" + std::to_string(out.rows) + "," +
                     std::to_string(out.cols) + ")");
  if (!out.grad)
    throw std::logic_error("backward: the loss does not depend on any tensor that requires grad");
  for (int id = 0; id <= loss.id(); ++id) {
    Node<T>& n = nodes_[id];
    if (n.grad && n.kind) std::memset(n.grad, 0, std::size_t(n.rows) * n.cols * sizeof(T));
  }
  out.grad[0] = T(1);
  // Leaves (no kind) pass their gradient on to nothing.
  for (int id = loss.id(); id >= 0; --id) {
    const Node<T>& n = nodes_[id];
    if (n.grad && n.kind) n.kind->backward(*this, n);
  }
}

template <class T>
void Tape<T>::zero_grad() {
  for (Node<T>& n : nodes_)
    if (!n.kind && n.grad) std::memset(n.grad, 0, std::size_t(n.rows) * n.cols * sizeof(T));
}

template class Tensor<float>;
template class Tensor<double>;
template class Tape<float>;
template class Tape<double>;

}  // namespace sg
