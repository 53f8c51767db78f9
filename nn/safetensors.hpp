// safetensors: the checkpoint file format (https://github.com/huggingface/safetensors), readable
// from Python's `safetensors`. Depends on the standard library and nlohmann-json only, so that it
// can be fuzzed on its own; nn/ checkpoints convert their tensors to and from RawTensor.
//
// Contract.
//  - File layout: 8 bytes little-endian u64 N, N bytes of UTF-8 JSON (an object: tensor name ->
//    {"dtype", "shape", "data_offsets"}, plus an optional "__metadata__" object of strings),
//    then the data section: every tensor's raw little-endian row-major bytes, no holes, no overlaps.
//  - SafeTensors is an ordered collection: names() lists tensors in insertion order (for a parsed
//    file, header order). put() rejects a name that is already present -- a checkpoint that names
//    two parameters alike is a bug to report, not to resolve by silently keeping one.
//  - serialize() writes the header in insertion order with "__metadata__" first (omitted when
//    empty), compact JSON, padded with spaces so the data section starts 8-byte aligned. The data
//    section is ordered by element size, largest first (stable), so every tensor starts at an
//    offset that is a multiple of its element size, as Python's writer also guarantees.
//  - parse() validates everything and throws SafeTensorsError, whose message starts with the
//    source name and says what was wrong and where; it never crashes, and allocates nothing beyond
//    what the input's size justifies (the header is capped at 100 MB). Strictness choices: an
//    entry with a key other than dtype/shape/data_offsets is rejected; a key repeated within any
//    JSON object (a tensor name included) is rejected; the header must start with '{'; after the
//    object only JSON whitespace may follow (writers pad with spaces). Dtypes: the fifteen whole-byte
//    ones (BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64);
//    newer sub-byte types are rejected as unknown.
//  - save() is atomic: it writes <path>.tmp-<pid>, flushes and fsyncs it, renames it over <path>
//    (then fsyncs the directory, best effort). Until the rename an existing <path> is untouched; on
//    any failure the temporary file is removed. Two threads of one process must not save to the
//    same path at the same time (they would share the temporary name).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sg {

class SafeTensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bytes per element of a safetensors dtype ("F32" -> 4); 0 for a dtype this layer does not know.
std::size_t dtype_size(std::string_view dtype);

struct RawTensor {
  std::string dtype;                // "F32", "F64", "I64", "U64", "I32", "U8", ...
  std::vector<std::int64_t> shape;  // [] is a scalar (one element); a 0 anywhere means empty
  std::vector<std::uint8_t> bytes;  // little-endian, row-major, element count * dtype size
};

class SafeTensors {
 public:
  // Free-form string -> string pairs, written as the header's "__metadata__".
  std::map<std::string, std::string> metadata;

  // Adds a tensor; throws if the name is taken or "__metadata__", or if the dtype is unknown, a
  // dimension negative, or the byte count does not match dtype and shape.
  void put(const std::string& name, RawTensor tensor);

  // Typed puts: `values` must hold exactly the element count of `shape`.
  void put_f32(const std::string& name, std::vector<std::int64_t> shape, std::span<const float> values);
  void put_f64(const std::string& name, std::vector<std::int64_t> shape, std::span<const double> values);
  void put_i64(const std::string& name, std::vector<std::int64_t> shape, std::span<const std::int64_t> values);
  void put_u64(const std::string& name, std::vector<std::int64_t> shape, std::span<const std::uint64_t> values);

  // Typed gets into a caller buffer: the stored tensor must have exactly this dtype and `shape`
  // (no conversion, no reshape), and `out` exactly its element count; otherwise the error names
  // the tensor and the expected and found dtype and shape.
  void get_f32(const std::string& name, const std::vector<std::int64_t>& shape, std::span<float> out) const;
  void get_f64(const std::string& name, const std::vector<std::int64_t>& shape, std::span<double> out) const;
  void get_i64(const std::string& name, const std::vector<std::int64_t>& shape, std::span<std::int64_t> out) const;
  void get_u64(const std::string& name, const std::vector<std::int64_t>& shape, std::span<std::uint64_t> out) const;

  bool contains(const std::string& name) const;
  const RawTensor& at(const std::string& name) const;  // throws, listing the names present
  std::vector<std::string> names() const;
  // 64-bit FNV-1a over every tensor (name, dtype, shape, bytes, in order) and every metadata
  // entry except `skip`: a checksum that finds a changed byte, not a cryptographic hash.
  std::uint64_t digest(const std::string& skip) const;
  std::size_t size() const { return entries_.size(); }
  // The file this collection was loaded from (or the parse() source name); prefixes every error.
  const std::string& source() const { return source_; }

  std::vector<std::uint8_t> serialize() const;  // the exact file bytes
  static SafeTensors parse(const std::uint8_t* data, std::size_t size, const std::string& source_name);
  void save(const std::string& path) const;
  static SafeTensors load(const std::string& path);

 private:
  [[noreturn]] void fail(const std::string& what) const;

  std::string source_ = "(in-memory safetensors)";
  std::vector<std::pair<std::string, RawTensor>> entries_;  // insertion order
  std::unordered_map<std::string, std::size_t> index_;      // name -> position in entries_
};

}  // namespace sg
