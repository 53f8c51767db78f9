// safetensors reading, validation and atomic writing (see safetensors.hpp for the contract).
// parse() checks the 8-byte length, parses the header with nlohmann-json (a parser callback
// catches repeated keys, which a JSON object would otherwise silently collapse), validates each
// entry on its own, then checks that the tensors tile the data section exactly before copying bytes.
#include "nn/safetensors.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include <fcntl.h>   // open (directory fsync)
#include <unistd.h>  // getpid, fsync, close

#include <nlohmann/json.hpp>

// The typed helpers memcpy host values straight into the file's little-endian bytes. A big-endian
// port would byte-swap there; until someone needs one, refuse to build rather than write files
// that Python reads as garbage.
static_assert(std::endian::native == std::endian::little,
              "nn/safetensors.cpp assumes a little-endian host (safetensors data is little-endian)");

namespace sg {

namespace {

using json = nlohmann::json;

// The reference implementation's cap: a header larger than this is corrupt or hostile.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

constexpr std::array<std::pair<std::string_view, std::size_t>, 15> kDtypes{{
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8},
}};

std::string known_dtypes() {
  std::string out;
  for (const auto& [name, size] : kDtypes) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// A name as it would appear in JSON, so that quotes, newlines or invalid UTF-8 in a hostile file
// cannot garble the message; very long names are cut.
std::string json_quoted(const std::string& text) {
  constexpr std::size_t kMaxShown = 200;
  const bool cut = text.size() > kMaxShown;
  std::string shown = json(cut ? text.substr(0, kMaxShown) : text)
                          .dump(-1, ' ', false, json::error_handler_t::replace);
  return cut ? shown + "..." : shown;
}

std::string format_shape(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// What a JSON value is, for messages: numbers and short strings by value, the rest by type.
std::string describe(const json& value) {
  if (value.is_number_unsigned()) return std::to_string(value.get<std::uint64_t>());
  if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
  if (value.is_number_float()) return value.dump();
  if (value.is_string()) return "the string " + json_quoted(value.get_ref<const std::string&>());
  if (value.is_null()) return "null";
  return std::string(value.is_array() || value.is_object() ? "an " : "a ") + value.type_name();
}

// A non-negative JSON integer, including the -0 that nlohmann stores as a signed integer.
std::optional<std::uint64_t> as_u64(const json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  return std::nullopt;
}

// Byte count of a tensor, or nullopt if it does not fit in 64 bits. A zero dimension makes the
// tensor empty whatever the others are, so it is looked for first: [2^40, 2^40, 0] is 0 bytes,
// not an overflow.
std::optional<std::uint64_t> byte_count(const std::vector<std::int64_t>& shape, std::size_t element_size) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::uint64_t count = element_size;
  for (std::int64_t dim : shape) {
    const auto d = static_cast<std::uint64_t>(dim);
    if (count > std::numeric_limits<std::uint64_t>::max() / d) return std::nullopt;
    count *= d;
  }
  return count;
}

// The JSON text of a string; throws with `what` if it is not valid UTF-8 (JSON cannot hold it,
// and Python would refuse the file).
std::string json_text(const std::string& text, const std::string& source, const std::string& what) {
  try {
    return json(text).dump();
  } catch (const json::exception&) {
    throw SafeTensorsError(source + ": " + what + " is not valid UTF-8");
  }
}

template <class T>
void put_typed(SafeTensors& st, const char* dtype, const std::string& name,
               std::vector<std::int64_t> shape, std::span<const T> values) {
  RawTensor tensor{dtype, std::move(shape), std::vector<std::uint8_t>(values.size_bytes())};
  if (!values.empty()) std::memcpy(tensor.bytes.data(), values.data(), values.size_bytes());
  st.put(name, std::move(tensor));
}

template <class T>
void get_typed(const SafeTensors& st, const char* dtype, const std::string& name,
               const std::vector<std::int64_t>& shape, std::span<T> out) {
  const RawTensor& tensor = st.at(name);
  if (tensor.dtype != dtype || tensor.shape != shape)
    throw SafeTensorsError(st.source() + ": tensor " + json_quoted(name) + ": expected " + dtype + " " +
                           format_shape(shape) + ", found " + tensor.dtype + " " +
                           format_shape(tensor.shape));
  if (out.size_bytes() != tensor.bytes.size())
    throw SafeTensorsError(st.source() + ": tensor " + json_quoted(name) + " (" + dtype + " " +
                           format_shape(shape) + ") has " +
                           std::to_string(tensor.bytes.size() / sizeof(T)) +
                           " elements, but the output buffer holds " + std::to_string(out.size()));
  if (!out.empty()) std::memcpy(out.data(), tensor.bytes.data(), tensor.bytes.size());
}

}  // namespace

std::size_t dtype_size(std::string_view dtype) {
  for (const auto& [name, size] : kDtypes)
    if (name == dtype) return size;
  return 0;
}

void SafeTensors::fail(const std::string& what) const { throw SafeTensorsError(source_ + ": " + what); }

// ------------------------------------------------------------------ the collection

void SafeTensors::put(const std::string& name, RawTensor tensor) {
  const std::string where = "tensor " + json_quoted(name);
  if (name == "__metadata__")
    fail("\"__metadata__\" is reserved for the header's metadata and cannot name a tensor");
  json_text(name, source_, "the name of " + where);
  if (index_.count(name)) fail(where + " is already present; tensor names must be unique");
  const std::size_t element_size = dtype_size(tensor.dtype);
  if (element_size == 0)
    fail(where + ": unknown dtype " + json_quoted(tensor.dtype) + " (known: " + known_dtypes() + ")");
  for (std::int64_t dim : tensor.shape)
    if (dim < 0) fail(where + ": shape " + format_shape(tensor.shape) + " has a negative dimension");
  const std::optional<std::uint64_t> need = byte_count(tensor.shape, element_size);
  if (!need) fail(where + ": shape " + format_shape(tensor.shape) + " has more bytes than fit in 64 bits");
  if (*need != tensor.bytes.size())
    fail(where + ": " + tensor.dtype + " " + format_shape(tensor.shape) + " needs " +
         std::to_string(*need / element_size) + " elements (" + std::to_string(*need) +
         " bytes), got " + std::to_string(tensor.bytes.size()) + " bytes");
  entries_.emplace_back(name, std::move(tensor));
  try {
    index_.emplace(name, entries_.size() - 1);
  } catch (...) {
    entries_.pop_back();
    throw;
  }
}

void SafeTensors::put_f32(const std::string& name, std::vector<std::int64_t> shape, std::span<const float> values) {
  put_typed(*this, "F32", name, std::move(shape), values);
}
void SafeTensors::put_f64(const std::string& name, std::vector<std::int64_t> shape, std::span<const double> values) {
  put_typed(*this, "F64", name, std::move(shape), values);
}
void SafeTensors::put_i64(const std::string& name, std::vector<std::int64_t> shape,
                          std::span<const std::int64_t> values) {
  put_typed(*this, "I64", name, std::move(shape), values);
}
void SafeTensors::put_u64(const std::string& name, std::vector<std::int64_t> shape,
                          std::span<const std::uint64_t> values) {
  put_typed(*this, "U64", name, std::move(shape), values);
}

void SafeTensors::get_f32(const std::string& name, const std::vector<std::int64_t>& shape, std::span<float> out) const {
  get_typed(*this, "F32", name, shape, out);
}
void SafeTensors::get_f64(const std::string& name, const std::vector<std::int64_t>& shape, std::span<double> out) const {
  get_typed(*this, "F64", name, shape, out);
}
void SafeTensors::get_i64(const std::string& name, const std::vector<std::int64_t>& shape,
                          std::span<std::int64_t> out) const {
  get_typed(*this, "I64", name, shape, out);
}
void SafeTensors::get_u64(const std::string& name, const std::vector<std::int64_t>& shape,
                          std::span<std::uint64_t> out) const {
  get_typed(*this, "U64", name, shape, out);
}

bool SafeTensors::contains(const std::string& name) const { return index_.count(name) != 0; }

const RawTensor& SafeTensors::at(const std::string& name) const {
  const auto found = index_.find(name);
  if (found != index_.end()) return entries_[found->second].second;
  constexpr std::size_t kMaxListed = 10;
  std::string listed;
  for (std::size_t i = 0; i < entries_.size() && i < kMaxListed; ++i)
    listed += (i ? ", " : "") + json_quoted(entries_[i].first);
  if (entries_.size() > kMaxListed) listed += ", ...";
  fail("no tensor named " + json_quoted(name) + " (it has " + std::to_string(entries_.size()) +
       (entries_.empty() ? "" : ": " + listed) + ")");
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& entry : entries_) out.push_back(entry.first);
  return out;
}

std::uint64_t SafeTensors::digest(const std::string& skip) const {
  std::uint64_t h = 14695981039346656037ull;
  const auto add = [&h](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  const auto add_text = [&add](const std::string& s) { add(s.c_str(), s.size() + 1); };  // with its terminator
  for (const auto& [name, t] : entries_) {
    add_text(name);
    add_text(t.dtype);
    for (std::int64_t d : t.shape) add(&d, sizeof d);
    add(t.bytes.data(), t.bytes.size());
  }
  for (const auto& [key, value] : metadata)
    if (key != skip) add_text(key), add_text(value);
  return h;
}

// ------------------------------------------------------------------ writing

std::vector<std::uint8_t> SafeTensors::serialize() const {
  // Largest elements first: with the data section 8-byte aligned and sizes powers of two, every
  // tensor then starts at a multiple of its own element size (mmap readers may rely on it).
  std::vector<std::size_t> data_order(entries_.size());
  std::iota(data_order.begin(), data_order.end(), std::size_t{0});
  std::stable_sort(data_order.begin(), data_order.end(), [&](std::size_t a, std::size_t b) {
    return dtype_size(entries_[a].second.dtype) > dtype_size(entries_[b].second.dtype);
  });
  std::vector<std::uint64_t> begin(entries_.size());
  std::uint64_t data_size = 0;
  for (std::size_t i : data_order) {
    begin[i] = data_size;
    data_size += entries_[i].second.bytes.size();
  }

  // Assembled from nlohmann-dumped pieces: a json object would sort the keys, and ordered_json
  // inserts in O(n) per key; this keeps "__metadata__" first and tensors in insertion order.
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      header += json_text(key, source_, "metadata key " + json_quoted(key));
      header += ':';
      header += json_text(value, source_, "the metadata value of key " + json_quoted(key));
    }
    header += '}';
  }
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& [name, tensor] = entries_[i];
    if (header.size() > 1) header += ',';
    header += json(name).dump();  // put() checked the name is valid UTF-8
    header += ':';
    nlohmann::ordered_json entry;  // the key order Python writes
    entry["dtype"] = tensor.dtype;
    entry["shape"] = tensor.shape;
    entry["data_offsets"] = {begin[i], begin[i] + tensor.bytes.size()};
    header += entry.dump();
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');  // 8 + header is then a multiple of 8
  if (header.size() > kMaxHeaderBytes)
    fail("the header would be " + std::to_string(header.size()) + " bytes, over the " +
         std::to_string(kMaxHeaderBytes) + "-byte limit readers enforce");

  std::vector<std::uint8_t> out;
  out.reserve(8 + header.size() + data_size);
  for (int byte = 0; byte < 8; ++byte)
    out.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(header.size()) >> (8 * byte)));
  out.insert(out.end(), header.begin(), header.end());
  for (std::size_t i : data_order) out.insert(out.end(), entries_[i].second.bytes.begin(), entries_[i].second.bytes.end());
  return out;
}

void SafeTensors::save(const std::string& path) const {
  const std::vector<std::uint8_t> bytes = serialize();  // every error we can foresee, before touching disk
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (file == nullptr)
    throw SafeTensorsError(path + ": cannot create the temporary file " + tmp + ": " + std::strerror(errno));
  auto abandon = [&](const std::string& step, int error) {
    std::remove(tmp.c_str());
    throw SafeTensorsError(path + ": " + step + " " + tmp + " failed: " + std::strerror(error));
  };
  // fsync before rename: otherwise a crash can leave the new name pointing at unwritten blocks.
  if (std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size() || std::fflush(file) != 0 ||
      ::fsync(::fileno(file)) != 0) {
    const int error = errno;
    std::fclose(file);
    abandon("writing", error);
  }
  if (std::fclose(file) != 0) abandon("closing", errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) abandon("renaming to " + path + " from", errno);

  // Make the rename itself durable. Best effort: the new file is already in place, and a
  // filesystem that cannot fsync a directory is no reason to report the save as failed.
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

// ------------------------------------------------------------------ reading

SafeTensors SafeTensors::load(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw SafeTensorsError(path + ": cannot open: " + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  std::error_code ignored;
  const std::uintmax_t expected = std::filesystem::file_size(path, ignored);
  if (!ignored && expected <= bytes.max_size()) bytes.reserve(expected);
  std::array<std::uint8_t, 1 << 16> chunk;
  std::size_t got = 0;
  while ((got = std::fread(chunk.data(), 1, chunk.size(), file)) > 0)
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
  if (std::ferror(file)) {
    const int error = errno;
    std::fclose(file);
    throw SafeTensorsError(path + ": read error: " + std::strerror(error));
  }
  std::fclose(file);
  return parse(bytes.data(), bytes.size(), path);
}

SafeTensors SafeTensors::parse(const std::uint8_t* data, std::size_t size, const std::string& source_name) {
  SafeTensors out;
  out.source_ = source_name;
  if (size < 8)
    out.fail("the file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  std::uint64_t header_len = 0;  // decoded byte by byte: correct whatever the host's byte order
  for (int byte = 0; byte < 8; ++byte) header_len |= static_cast<std::uint64_t>(data[byte]) << (8 * byte);
  if (header_len > kMaxHeaderBytes)
    out.fail("header length " + std::to_string(header_len) + " exceeds the limit of " +
             std::to_string(kMaxHeaderBytes) + " bytes");
  if (header_len > size - 8)
    out.fail("header length " + std::to_string(header_len) + " exceeds the file size " + std::to_string(size) +
             " (" + std::to_string(size - 8) + " bytes follow the length)");
  if (header_len == 0) out.fail("the header is empty (length 0); expected a JSON object");
  const char* text = reinterpret_cast<const char*>(data + 8);
  if (text[0] != '{') {
    char found[8];
    std::snprintf(found, sizeof found, "0x%02X", static_cast<unsigned>(data[8]));
    out.fail(std::string("the header is not a JSON object: it starts with byte ") + found + ", not '{'");
  }

  // nlohmann keeps the last of repeated keys; a stack of the keys seen in each open object lets
  // us reject them instead (two tensors of one name, or an entry with two "dtype"s, would
  // otherwise load as whichever came last). Top-level keys are also recorded, in file order.
  std::vector<std::set<std::string>> open_objects;
  std::vector<std::string> tensor_order;
  auto on_event = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (event == json::parse_event_t::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second)
        out.fail(open_objects.size() == 1 ? "the header names " + json_quoted(key) + " twice"
                                          : "the header repeats the key " + json_quoted(key) + " inside an object");
      if (open_objects.size() == 1) tensor_order.push_back(key);
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, text + header_len, on_event);
  } catch (const json::exception& error) {
    // nlohmann quotes the text it last read, which in a hostile file can be most of the header.
    constexpr std::size_t kMaxShown = 300;
    std::string message = error.what();
    if (message.size() > kMaxShown) message = message.substr(0, kMaxShown) + "...";
    out.fail("the header is not valid JSON: " + message);
  }
  if (!header.is_object()) out.fail("the header is " + describe(header) + ", not a JSON object");

  const std::uint64_t data_size = size - 8 - header_len;
  struct Placement {
    std::uint64_t begin, end;
    std::size_t entry;
  };
  std::vector<Placement> placements;
  for (const std::string& name : tensor_order) {
    const json& value = header[name];
    if (name == "__metadata__") {
      if (!value.is_object())
        out.fail("\"__metadata__\" is " + describe(value) + ", expected an object of strings");
      for (const auto& [key, item] : value.items()) {
        if (!item.is_string())
          out.fail("\"__metadata__\" value of key " + json_quoted(key) + " is " + describe(item) + ", expected a string");
        out.metadata.emplace(key, item.get<std::string>());
      }
      continue;
    }

    const std::string where = "tensor " + json_quoted(name);
    if (!value.is_object())
      out.fail(where + ": entry is " + describe(value) + ", expected an object with dtype, shape and data_offsets");
    for (const auto& [key, item] : value.items())
      if (key != "dtype" && key != "shape" && key != "data_offsets")
        out.fail(where + ": unknown key " + json_quoted(key) + " (expected only dtype, shape and data_offsets)");
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!value.contains(key)) out.fail(where + ": missing \"" + key + "\"");

    const json& dtype = value["dtype"];
    if (!dtype.is_string()) out.fail(where + ": dtype is " + describe(dtype) + ", expected a string");
    RawTensor tensor;
    tensor.dtype = dtype.get<std::string>();
    const std::size_t element_size = dtype_size(tensor.dtype);
    if (element_size == 0)
      out.fail(where + ": unknown dtype " + json_quoted(tensor.dtype) + " (known: " + known_dtypes() + ")");

    const json& shape = value["shape"];
    if (!shape.is_array())
      out.fail(where + ": shape is " + describe(shape) + ", expected an array of non-negative integers");
    for (std::size_t i = 0; i < shape.size(); ++i) {
      const std::optional<std::uint64_t> dim = as_u64(shape[i]);
      if (!dim) out.fail(where + ": shape[" + std::to_string(i) + "] is " + describe(shape[i]) +
                         ", expected a non-negative integer");
      if (*dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        out.fail(where + ": shape[" + std::to_string(i) + "] is " + std::to_string(*dim) + ", larger than 2^63 - 1");
      tensor.shape.push_back(static_cast<std::int64_t>(*dim));
    }
    const std::optional<std::uint64_t> need = byte_count(tensor.shape, element_size);
    if (!need) out.fail(where + ": shape " + format_shape(tensor.shape) + " has more bytes than fit in 64 bits");

    const json& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2)
      out.fail(where + ": data_offsets is " + describe(offsets) +
               (offsets.is_array() ? " of " + std::to_string(offsets.size()) + " elements" : "") +
               ", expected [begin, end]");
    std::uint64_t range[2];
    for (std::size_t i = 0; i < 2; ++i) {
      const std::optional<std::uint64_t> offset = as_u64(offsets[i]);
      if (!offset) out.fail(where + ": data_offsets[" + std::to_string(i) + "] is " + describe(offsets[i]) +
                            ", expected a non-negative integer");
      range[i] = *offset;
    }
    const std::string range_text = "[" + std::to_string(range[0]) + ", " + std::to_string(range[1]) + "]";
    if (range[0] > range[1]) out.fail(where + ": data_offsets " + range_text + " end before they begin");
    if (range[1] > data_size)
      out.fail(where + ": data_offsets " + range_text + " end past the data section, which is " +
               std::to_string(data_size) + " bytes");
    if (range[1] - range[0] != *need)
      out.fail(where + ": data_offsets " + range_text + " hold " + std::to_string(range[1] - range[0]) +
               " bytes, but " + tensor.dtype + " " + format_shape(tensor.shape) + " needs " + std::to_string(*need));

    placements.push_back({range[0], range[1], out.entries_.size()});
    out.index_.emplace(name, out.entries_.size());
    out.entries_.emplace_back(name, std::move(tensor));
  }

  // The tensors must tile [0, data_size) exactly: sorted by (begin, end), each one starts where
  // the previous ended. An empty tensor may sit at any boundary.
  std::sort(placements.begin(), placements.end(), [](const Placement& a, const Placement& b) {
    return std::tie(a.begin, a.end, a.entry) < std::tie(b.begin, b.end, b.entry);
  });
  std::uint64_t covered = 0;
  const Placement* previous = nullptr;
  for (const Placement& p : placements) {
    const std::string& name = out.entries_[p.entry].first;
    if (p.begin > covered)
      out.fail("bytes [" + std::to_string(covered) + ", " + std::to_string(p.begin) +
               ") of the data section belong to no tensor (a hole before tensor " + json_quoted(name) + ")");
    if (p.begin < covered)
      out.fail("tensors " + json_quoted(out.entries_[previous->entry].first) + " [" + std::to_string(previous->begin) +
               ", " + std::to_string(previous->end) + "] and " + json_quoted(name) + " [" + std::to_string(p.begin) +
               ", " + std::to_string(p.end) + "] overlap in the data section");
    covered = p.end;
    previous = &p;
  }
  if (covered != data_size)
    out.fail("bytes [" + std::to_string(covered) + ", " + std::to_string(data_size) +
             ") at the end of the data section belong to no tensor");

  const std::uint8_t* data_section = data + 8 + header_len;
  for (const Placement& p : placements)
    out.entries_[p.entry].second.bytes.assign(data_section + p.begin, data_section + p.end);
  return out;
}

}  // namespace sg
