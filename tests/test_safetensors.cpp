// Tests of nn/safetensors: round trips, the exact bytes on disk (decoded by hand here, not by the
// code under test), a file laid out as Python's safetensors writes it, every malformed-input
// rejection with the fact its message must name, truncations and byte flips that must throw
// SafeTensorsError and nothing else, and the atomic save.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "nn/safetensors.hpp"

using sg::RawTensor;
using sg::SafeTensors;
using sg::SafeTensorsError;

namespace {

constexpr const char* kSource = "bad.safetensors";

// A file from a header text and a data section; `length` overrides the 8-byte header length.
std::vector<std::uint8_t> file_of(const std::string& header, std::vector<std::uint8_t> data = {},
                                  std::uint64_t length = std::numeric_limits<std::uint64_t>::max()) {
  if (length == std::numeric_limits<std::uint64_t>::max()) length = header.size();
  std::vector<std::uint8_t> out;
  for (int byte = 0; byte < 8; ++byte) out.push_back(static_cast<std::uint8_t>(length >> (8 * byte)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

SafeTensors parse_bytes(const std::vector<std::uint8_t>& bytes) {
  return SafeTensors::parse(bytes.data(), bytes.size(), kSource);
}

std::vector<std::uint8_t> zeros(std::size_t n) { return std::vector<std::uint8_t>(n, 0); }

// A file with one F32 [2] tensor "w" at [0, 8] and the given extra header text after it.
std::string one_tensor(const std::string& w_entry) { return "{\"w\":" + w_entry + "}"; }

#define CHECK_REJECTS(bytes, fact) \
  CHECK_THROWS_WITH_AS(parse_bytes(bytes), doctest::Contains(fact), SafeTensorsError)

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::set<std::string> listing(const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

// A fresh scratch directory, removed at the end of the test.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& tag)
      : path(std::filesystem::temp_directory_path() /
             ("sg_safetensors_" + tag + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// Several dtypes and shapes, including a scalar, empty tensors and awkward float values.
SafeTensors sample() {
  SafeTensors st;
  st.metadata = {{"format", "pt"}, {"epoch", "3"}, {"note", "ünïcode \"quoted\"\n"}};
  const std::vector<float> w = {1.5f, -0.0f, std::numeric_limits<float>::quiet_NaN(),
                                std::numeric_limits<float>::infinity(), 1e-40f, -3.25f};
  st.put_f32("layer.0.weight", {2, 3}, w);
  const double lr = 3.25;
  st.put_f64("lr", {}, std::span<const double>(&lr, 1));
  const std::vector<std::int64_t> steps = {0, -1, std::numeric_limits<std::int64_t>::min(),
                                           std::numeric_limits<std::int64_t>::max()};
  st.put_i64("steps", {4}, steps);
  const std::vector<std::uint64_t> seeds = {std::numeric_limits<std::uint64_t>::max(), 42};
  st.put_u64("seeds", {2, 1}, seeds);
  st.put_f32("empty", {0, 5}, {});
  st.put("mask", RawTensor{"U8", {3}, {1, 0, 255}});
  st.put("count", RawTensor{"I32", {2}, {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}});
  st.put("nothing", RawTensor{"F64", {0}, {}});
  return st;
}

}  // namespace

TEST_CASE("safetensors: round trip of several dtypes and shapes, scalar and empty tensors included") {
  const SafeTensors original = sample();
  const std::vector<std::uint8_t> bytes = original.serialize();
  const SafeTensors back = parse_bytes(bytes);

  CHECK(back.names() == original.names());
  CHECK(back.names() == std::vector<std::string>{"layer.0.weight", "lr", "steps", "seeds", "empty", "mask",
                                                 "count", "nothing"});
  CHECK(back.metadata == original.metadata);
  for (const std::string& name : original.names()) {
    CAPTURE(name);
    CHECK(back.at(name).dtype == original.at(name).dtype);
    CHECK(back.at(name).shape == original.at(name).shape);
    CHECK(back.at(name).bytes == original.at(name).bytes);
  }
  CHECK(back.at("lr").shape.empty());
  CHECK(back.at("lr").bytes.size() == 8);
  CHECK(back.at("empty").bytes.empty());

  std::array<float, 6> w{};
  back.get_f32("layer.0.weight", {2, 3}, w);
  CHECK(w[0] == 1.5f);
  CHECK(std::signbit(w[1]));
  CHECK(std::isnan(w[2]));
  CHECK(w[3] == std::numeric_limits<float>::infinity());
  CHECK(w[4] == 1e-40f);
  double lr = 0;
  back.get_f64("lr", {}, std::span<double>(&lr, 1));
  CHECK(lr == 3.25);
  std::array<std::int64_t, 4> steps{};
  back.get_i64("steps", {4}, steps);
  CHECK(steps[2] == std::numeric_limits<std::int64_t>::min());
  CHECK(steps[3] == std::numeric_limits<std::int64_t>::max());
  std::array<std::uint64_t, 2> seeds{};
  back.get_u64("seeds", {2, 1}, seeds);
  CHECK(seeds[0] == std::numeric_limits<std::uint64_t>::max());
  CHECK(seeds[1] == 42);
  back.get_f32("empty", {0, 5}, {});

  // Writing what was read gives the same bytes: the layout is a function of the contents.
  CHECK(back.serialize() == bytes);

  ScratchDir dir("roundtrip");
  const std::string path = (dir.path / "ckpt.safetensors").string();
  original.save(path);
  CHECK(read_file(path) == bytes);
  const SafeTensors loaded = SafeTensors::load(path);
  CHECK(loaded.source() == path);
  CHECK(loaded.names() == original.names());
  CHECK(loaded.at("count").bytes == original.at("count").bytes);
  CHECK(loaded.metadata == original.metadata);
}

TEST_CASE("safetensors: the exact bytes of a small file, decoded by hand") {
  SafeTensors st;
  st.metadata["k"] = "v";
  const std::vector<float> values = {1.5f, -2.0f};
  st.put_f32("w", {2}, values);
  const std::vector<std::uint8_t> bytes = st.serialize();

  REQUIRE(bytes.size() >= 8);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
  CHECK((8 + n) % 8 == 0);
  REQUIRE(bytes.size() == 8 + n + 8);

  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  const std::string json_text = R"({"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK(header.substr(0, json_text.size()) == json_text);
  const std::string padding = header.substr(json_text.size());
  CHECK(padding.size() < 8);
  CHECK(padding == std::string(padding.size(), ' '));

  const nlohmann::json parsed = nlohmann::json::parse(header);
  CHECK(parsed["w"]["dtype"] == "F32");
  CHECK(parsed["w"]["shape"] == nlohmann::json::array({2}));
  CHECK(parsed["w"]["data_offsets"] == nlohmann::json::array({0, 8}));
  CHECK(parsed["__metadata__"] == nlohmann::json{{"k", "v"}});

  // 1.5f = 0x3FC00000 and -2.0f = 0xC0000000, little-endian.
  const std::vector<std::uint8_t> data(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), bytes.end());
  CHECK(data == std::vector<std::uint8_t>{0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0xC0});
}

TEST_CASE("safetensors: the data section puts larger elements first, so every tensor is aligned") {
  SafeTensors st;
  st.put("flags", RawTensor{"U8", {3}, {1, 2, 3}});
  st.put("half", RawTensor{"F16", {1}, {0, 0x3C}});
  const float f = 2.0f;
  st.put_f32("f", {}, std::span<const float>(&f, 1));
  const double d = 4.0;
  st.put_f64("d", {1}, std::span<const double>(&d, 1));
  const std::vector<std::uint8_t> bytes = st.serialize();
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
  const nlohmann::ordered_json header =
      nlohmann::ordered_json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));

  std::vector<std::string> keys;
  for (const auto& [key, value] : header.items()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"flags", "half", "f", "d"});  // header: insertion order
  CHECK(header["d"]["data_offsets"] == nlohmann::json::array({0, 8}));
  CHECK(header["f"]["data_offsets"] == nlohmann::json::array({8, 12}));
  CHECK(header["half"]["data_offsets"] == nlohmann::json::array({12, 14}));
  CHECK(header["flags"]["data_offsets"] == nlohmann::json::array({14, 17}));
  CHECK(parse_bytes(bytes).names() == keys);
}

TEST_CASE("safetensors: a file as Python's safetensors writes it loads") {
  // save_file({"bias": f32[3], "mask": u8[2], "step": i64[]}, metadata={"format": "pt"}):
  // compact JSON, "__metadata__" first then sorted names, each entry dtype/shape/data_offsets,
  // data ordered by alignment (I64, F32, U8), header padded with spaces to a multiple of 8.
  std::string header =
      R"({"__metadata__":{"format":"pt"},"bias":{"dtype":"F32","shape":[3],"data_offsets":[8,20]},)"
      R"("mask":{"dtype":"U8","shape":[2],"data_offsets":[20,22]},)"
      R"("step":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  REQUIRE(header.size() % 8 == 0);
  const std::vector<std::uint8_t> data = {
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // step = 7
      0x00, 0x00, 0x80, 0x3F,                          // bias[0] = 1.0f
      0x00, 0x00, 0x80, 0xBF,                          // bias[1] = -1.0f
      0x00, 0x00, 0x00, 0x3F,                          // bias[2] = 0.5f
      0x01, 0x00,                                      // mask
  };
  const SafeTensors st = parse_bytes(file_of(header, data));
  CHECK(st.names() == std::vector<std::string>{"bias", "mask", "step"});
  CHECK(st.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  std::array<float, 3> bias{};
  st.get_f32("bias", {3}, bias);
  CHECK(bias == std::array<float, 3>{1.0f, -1.0f, 0.5f});
  std::int64_t step = 0;
  st.get_i64("step", {}, std::span<std::int64_t>(&step, 1));
  CHECK(step == 7);
  CHECK(st.at("mask").dtype == "U8");
  CHECK(st.at("mask").bytes == std::vector<std::uint8_t>{1, 0});
}

TEST_CASE("safetensors: malformed files are rejected with a message naming the fault") {
  const std::string w_ok = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  REQUIRE(parse_bytes(file_of(one_tensor(w_ok), zeros(8))).contains("w"));  // the baseline is valid

  SUBCASE("the message starts with the source name") {
    CHECK_THROWS_WITH_AS(parse_bytes({1, 2, 3}), doctest::Contains("bad.safetensors: "), SafeTensorsError);
  }
  SUBCASE("lengths") {
    CHECK_REJECTS(std::vector<std::uint8_t>{}, "0 bytes, shorter than the 8-byte header length");
    CHECK_REJECTS((std::vector<std::uint8_t>{1, 2, 3}), "3 bytes, shorter than the 8-byte header length");
    std::vector<std::uint8_t> small = file_of("{}", zeros(802), 9999999);
    REQUIRE(small.size() == 812);
    CHECK_REJECTS(small, "header length 9999999 exceeds the file size 812");
    CHECK_REJECTS(file_of("{}", {}, 200'000'000), "header length 200000000 exceeds the limit of 100000000");
    CHECK_REJECTS(file_of("{}", {}, std::numeric_limits<std::uint64_t>::max() - 1), "exceeds the limit");
    CHECK_REJECTS(file_of("", {}), "the header is empty");
  }
  SUBCASE("the header is not a JSON object") {
    CHECK_REJECTS(file_of(R"({"w": )"), "the header is not valid JSON: [json.exception.parse_error");
    CHECK_REJECTS(file_of("{} x"), "the header is not valid JSON");
    CHECK_REJECTS(file_of("{\"\xff\":1}"), "the header is not valid JSON");
    CHECK_REJECTS(file_of("[1, 2]"), "the header is not a JSON object: it starts with byte 0x5B");
    CHECK_REJECTS(file_of(" {}"), "it starts with byte 0x20");
  }
  SUBCASE("entries") {
    CHECK_REJECTS(file_of(one_tensor("5")), "tensor \"w\": entry is 5, expected an object");
    CHECK_REJECTS(file_of(one_tensor("[]")), "tensor \"w\": entry is an array");
    CHECK_REJECTS(file_of(one_tensor(R"({"shape":[2],"data_offsets":[0,8]})"), zeros(8)),
                  "tensor \"w\": missing \"dtype\"");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","data_offsets":[0,8]})"), zeros(8)),
                  "tensor \"w\": missing \"shape\"");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[2]})"), zeros(8)),
                  "tensor \"w\": missing \"data_offsets\"");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"foo":1})"), zeros(8)),
                  "tensor \"w\": unknown key \"foo\"");
  }
  SUBCASE("dtype") {
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F128","shape":[2],"data_offsets":[0,8]})"), zeros(8)),
                  "tensor \"w\": unknown dtype \"F128\" (known: BOOL, U8");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})"), zeros(8)),
                  "tensor \"w\": dtype is 4, expected a string");
  }
  SUBCASE("shape") {
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":"2","data_offsets":[0,8]})"), zeros(8)),
                  "tensor \"w\": shape is the string \"2\", expected an array");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[2,-3],"data_offsets":[0,8]})"), zeros(8)),
                  "tensor \"w\": shape[1] is -3, expected a non-negative integer");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,8]})"), zeros(8)),
                  "tensor \"w\": shape[0] is 2.5");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[null],"data_offsets":[0,8]})"), zeros(8)),
                  "tensor \"w\": shape[0] is null");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]})"),
                          zeros(8)),
                  "shape[0] is 9223372036854775808, larger than 2^63 - 1");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[4294967296,1073741824],"data_offsets":[0,8]})"),
                          zeros(8)),
                  "tensor \"w\": shape [4294967296, 1073741824] has more bytes than fit in 64 bits");
  }
  SUBCASE("data_offsets") {
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":8})"), zeros(8)),
                  "tensor \"w\": data_offsets is 8, expected [begin, end]");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8,16]})"), zeros(8)),
                  "data_offsets is an array of 3 elements, expected [begin, end]");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":["0",8]})"), zeros(8)),
                  "tensor \"w\": data_offsets[0] is the string \"0\"");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,-8]})"), zeros(8)),
                  "data_offsets[1] is -8");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[0],"data_offsets":[8,0]})"), zeros(8)),
                  "tensor \"w\": data_offsets [8, 0] end before they begin");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), zeros(8)),
                  "tensor \"w\": data_offsets [0, 16] end past the data section, which is 8 bytes");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), zeros(8)),
                  "tensor \"w\": data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","shape":[],"data_offsets":[0,8]})"), zeros(8)),
                  "hold 8 bytes, but F32 [] needs 4");
  }
  SUBCASE("coverage of the data section") {
    const std::string a = R"("a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]})";
    CHECK_REJECTS(file_of("{" + a + R"(,"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})", zeros(12)),
                  "tensors \"a\" [0, 8] and \"b\" [4, 12] overlap in the data section");
    CHECK_REJECTS(file_of("{" + a + R"(,"b":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", zeros(8)),
                  "overlap");
    CHECK_REJECTS(file_of("{" + a + R"(,"e":{"dtype":"U8","shape":[0],"data_offsets":[4,4]}})", zeros(8)),
                  "tensors \"a\" [0, 8] and \"e\" [4, 4] overlap");
    CHECK_REJECTS(file_of("{" + a + R"(,"b":{"dtype":"U8","shape":[4],"data_offsets":[12,16]}})", zeros(16)),
                  "bytes [8, 12) of the data section belong to no tensor (a hole before tensor \"b\")");
    CHECK_REJECTS(file_of(R"({"b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", zeros(8)),
                  "bytes [0, 4) of the data section belong to no tensor");
    CHECK_REJECTS(file_of("{" + a + "}", zeros(12)), "bytes [8, 12) at the end of the data section belong to no tensor");
    CHECK_REJECTS(file_of("{}", zeros(3)), "bytes [0, 3) at the end of the data section belong to no tensor");
    // Empty tensors at a boundary are fine.
    const SafeTensors ok =
        parse_bytes(file_of("{" + a + R"(,"e":{"dtype":"F64","shape":[0,3],"data_offsets":[8,8]}})", zeros(8)));
    CHECK(ok.at("e").bytes.empty());
  }
  SUBCASE("metadata") {
    CHECK_REJECTS(file_of(R"({"__metadata__":"x"})"), "\"__metadata__\" is the string \"x\", expected an object");
    CHECK_REJECTS(file_of(R"({"__metadata__":{"k":1}})"), "\"__metadata__\" value of key \"k\" is 1, expected a string");
    CHECK_REJECTS(file_of(R"({"__metadata__":{"k":{"n":"v"}}})"), "value of key \"k\" is an object");
  }
  SUBCASE("repeated keys, which nlohmann alone would silently collapse") {
    CHECK_REJECTS(file_of("{\"w\":" + w_ok + ",\"w\":" + w_ok + "}", zeros(8)), "the header names \"w\" twice");
    CHECK_REJECTS(file_of(one_tensor(R"({"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]})"), zeros(8)),
                  "the header repeats the key \"dtype\" inside an object");
    CHECK_REJECTS(file_of(R"({"__metadata__":{},"__metadata__":{}})"), "names \"__metadata__\" twice");
  }
}

TEST_CASE("safetensors: the in-memory API rejects misuse with the tensor's name") {
  SafeTensors st;
  const std::vector<float> four = {1, 2, 3, 4};
  st.put_f32("w", {2, 2}, four);
  CHECK_THROWS_WITH_AS(st.put_f32("w", {4}, four), doctest::Contains("tensor \"w\" is already present"),
                       SafeTensorsError);
  CHECK_THROWS_WITH_AS(st.put_f32("__metadata__", {4}, four), doctest::Contains("reserved"), SafeTensorsError);
  CHECK_THROWS_WITH_AS(st.put_f32("v", {3}, four), doctest::Contains("tensor \"v\": F32 [3] needs 3 elements (12 bytes), got 16 bytes"),
                       SafeTensorsError);
  CHECK_THROWS_WITH_AS(st.put("v", RawTensor{"F32", {-1}, {}}), doctest::Contains("shape [-1] has a negative dimension"),
                       SafeTensorsError);
  CHECK_THROWS_WITH_AS(st.put("v", RawTensor{"Q4", {1}, {0}}), doctest::Contains("unknown dtype \"Q4\""), SafeTensorsError);
  CHECK_THROWS_WITH_AS(st.put("bad\xff", RawTensor{"U8", {1}, {0}}), doctest::Contains("is not valid UTF-8"),
                       SafeTensorsError);
  CHECK(st.names() == std::vector<std::string>{"w"});  // nothing half-added

  std::array<float, 4> out{};
  CHECK_THROWS_WITH_AS(st.get_f32("missing", {2, 2}, out), doctest::Contains("no tensor named \"missing\" (it has 1: \"w\")"),
                       SafeTensorsError);
  CHECK_THROWS_WITH_AS(st.get_f32("w", {4}, out), doctest::Contains("tensor \"w\": expected F32 [4], found F32 [2, 2]"),
                       SafeTensorsError);
  std::array<double, 4> out64{};
  CHECK_THROWS_WITH_AS(st.get_f64("w", {2, 2}, out64), doctest::Contains("expected F64 [2, 2], found F32 [2, 2]"),
                       SafeTensorsError);
  std::array<float, 3> short_out{};
  CHECK_THROWS_WITH_AS(st.get_f32("w", {2, 2}, short_out), doctest::Contains("has 4 elements, but the output buffer holds 3"),
                       SafeTensorsError);
  st.get_f32("w", {2, 2}, out);
  CHECK(out == std::array<float, 4>{1, 2, 3, 4});

  st.metadata["key"] = "bad\xc3";
  CHECK_THROWS_WITH_AS((void)st.serialize(), doctest::Contains("metadata value of key \"key\" is not valid UTF-8"),
                       SafeTensorsError);

  CHECK_THROWS_WITH_AS(SafeTensors::load("/nonexistent/dir/x.safetensors"),
                       doctest::Contains("/nonexistent/dir/x.safetensors: cannot open"), SafeTensorsError);
}

TEST_CASE("safetensors: every truncation of a valid file is an error") {
  const std::vector<std::uint8_t> bytes = sample().serialize();
  int rejected = 0;
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    // An exact-size copy, so that a read past the cut is a read past the allocation (ASan sees it).
    const std::vector<std::uint8_t> truncated(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    CAPTURE(cut);
    CHECK_THROWS_AS(parse_bytes(truncated), SafeTensorsError);
    try {
      parse_bytes(truncated);
    } catch (const SafeTensorsError&) {
      ++rejected;
    }
  }
  CHECK(rejected == static_cast<int>(bytes.size()));
}

TEST_CASE("safetensors: random byte flips in the header load or throw SafeTensorsError, nothing else") {
  const std::vector<std::uint8_t> valid = sample().serialize();
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(valid[i]) << (8 * i);
  const std::size_t header_end = 8 + static_cast<std::size_t>(n);
  // Characters that change JSON structure reach more of the validator than random bits alone.
  const std::string structural = "{}[]\":,0123456789-.eE ";

  std::mt19937 rng(20240601);  // mt19937's output is fixed by the standard: the same mutations everywhere
  int loaded = 0, rejected = 0, other = 0;
  for (int trial = 0; trial < 600; ++trial) {
    std::vector<std::uint8_t> bytes = valid;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      const std::size_t at = rng() % header_end;
      switch (rng() % 3) {
        case 0: bytes[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
        case 1: bytes[at] = static_cast<std::uint8_t>(rng()); break;
        default: bytes[at] = static_cast<std::uint8_t>(structural[rng() % structural.size()]); break;
      }
    }
    try {
      parse_bytes(bytes);
      ++loaded;
    } catch (const SafeTensorsError&) {
      ++rejected;
    } catch (...) {
      ++other;
    }
  }
  CHECK(other == 0);
  CHECK(rejected > 300);  // most flips break something
  CHECK(loaded > 0);      // some land in names, metadata text or padding and stay valid
}

TEST_CASE("safetensors: save is atomic") {
  ScratchDir dir("atomic");
  const std::filesystem::path path = dir.path / "ckpt.safetensors";

  SafeTensors first;
  const std::vector<float> a = {1, 2};
  first.put_f32("w", {2}, a);
  first.save(path.string());
  SafeTensors second;
  const std::vector<double> b = {3, 4, 5};
  second.put_f64("v", {3}, b);
  second.save(path.string());

  SUBCASE("saving over an existing file replaces it and leaves no temporary file") {
    CHECK(read_file(path) == second.serialize());
    CHECK(SafeTensors::load(path.string()).names() == std::vector<std::string>{"v"});
    CHECK(listing(dir.path) == std::set<std::string>{"ckpt.safetensors"});
  }
  SUBCASE("a save that fails before the rename leaves the existing file as it was") {
    SafeTensors broken;
    broken.metadata["k"] = "\xff";
    CHECK_THROWS_AS(broken.save(path.string()), SafeTensorsError);
    CHECK(read_file(path) == second.serialize());
    CHECK(listing(dir.path) == std::set<std::string>{"ckpt.safetensors"});
  }
  SUBCASE("a save into a missing directory throws, naming the path, and creates nothing") {
    const std::filesystem::path missing = dir.path / "missing" / "ckpt.safetensors";
    CHECK_THROWS_WITH_AS(first.save(missing.string()), doctest::Contains((missing.string() + ": cannot create").c_str()),
                         SafeTensorsError);
    CHECK_FALSE(std::filesystem::exists(dir.path / "missing"));
    CHECK(listing(dir.path) == std::set<std::string>{"ckpt.safetensors"});
  }
  SUBCASE("a rename that fails removes the temporary file") {
    // The target is a non-empty directory: the temporary file is written, the rename refused.
    const std::filesystem::path occupied = dir.path / "occupied";
    std::filesystem::create_directory(occupied);
    std::ofstream(occupied / "keep.txt") << "keep";
    CHECK_THROWS_WITH_AS(first.save(occupied.string()), doctest::Contains("renaming"), SafeTensorsError);
    CHECK(listing(dir.path) == std::set<std::string>{"ckpt.safetensors", "occupied"});
    CHECK(listing(occupied) == std::set<std::string>{"keep.txt"});
  }
}
