// GgufWriter -> GgufFile round trips: every value type, arrays, tensors of
// several types, alignment, and the writer's argument checks.
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <limits>

#include "inference/gguf/gguf.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

GgufWriter sample_writer(uint64_t alignment) {
  GgufWriter w(alignment);
  w.set("general.architecture", GgufValue::str("llama"));
  w.set("v.u8", GgufValue::u8(200));
  w.set("v.i8", GgufValue::i8(-100));
  w.set("v.u16", GgufValue::u16(60000));
  w.set("v.i16", GgufValue::i16(-30000));
  w.set("v.u32", GgufValue::u32(4000000000u));
  w.set("v.i32", GgufValue::i32(-2000000000));
  w.set("v.u64", GgufValue::u64(std::numeric_limits<uint64_t>::max()));
  w.set("v.i64", GgufValue::i64(std::numeric_limits<int64_t>::min()));
  w.set("v.f32", GgufValue::f32(1.5e-6f));
  w.set("v.f64", GgufValue::f64(3.141592653589793));
  w.set("v.bool", GgufValue::boolean(true));
  w.set("v.str", GgufValue::str(std::string("h\xC3\xA9llo\0x", 8)));
  w.set("a.str", GgufValue::array(GgufArray::of_strings({"a", "", "<0x0A>", "\xE2\x96\x81the"})));
  w.set("a.i32", GgufValue::array(GgufArray::of_ints(GgufValueType::INT32, {1, -2, 3})));
  w.set("a.u8", GgufValue::array(GgufArray::of_ints(GgufValueType::UINT8, {0, 255})));
  w.set("a.bool", GgufValue::array(GgufArray::of_ints(GgufValueType::BOOL, {1, 0, 1})));
  w.set("a.f32", GgufValue::array(GgufArray::of_floats(GgufValueType::FLOAT32, {0.5, -1.25})));
  w.set("a.f64", GgufValue::array(GgufArray::of_floats(GgufValueType::FLOAT64, {1e300})));
  w.set("a.empty", GgufValue::array(GgufArray::of_strings({})));
  w.set("v.u32", GgufValue::u32(7));  // replaces, keeps the first position
  REQUIRE(w.add_tensor("f32", GgmlType::F32, {3, 2}, pattern(24, 1)).is_ok());
  REQUIRE(w.add_tensor("f16", GgmlType::F16, {5}, pattern(10, 2)).is_ok());
  REQUIRE(w.add_tensor("q8", GgmlType::Q8_0, {64, 3}, pattern(2 * 34 * 3, 3)).is_ok());
  REQUIRE(w.add_tensor("q4k", GgmlType::Q4_K, {256, 2, 1, 2}, pattern(144 * 4, 4)).is_ok());
  REQUIRE(w.add_tensor("q6k", GgmlType::Q6_K, {512}, pattern(420, 5)).is_ok());
  return w;
}

void check_sample(const GgufFile& f, uint64_t alignment) {
  CHECK(f.version() == 3);
  CHECK(f.alignment() == alignment);
  CHECK(f.metadata()[0].first == "general.architecture");
  CHECK(f.metadata()[5].first == "v.u32");
  CHECK(f.find("v.u8")->type == GgufValueType::UINT8);
  CHECK(f.get_u64("v.u8") == 200u);
  CHECK(f.get_i64("v.i8") == -100);
  CHECK(f.get_u64("v.u16") == 60000u);
  CHECK(f.get_i64("v.i16") == -30000);
  CHECK(f.get_u64("v.u32") == 7u);
  CHECK(f.get_i64("v.i32") == -2000000000);
  CHECK(f.get_u64("v.u32") == 7u);
  CHECK(f.get_u64("v.u64") == std::numeric_limits<uint64_t>::max());
  CHECK(f.get_i64("v.u64") == std::nullopt);
  CHECK(f.get_i64("v.i64") == std::numeric_limits<int64_t>::min());
  CHECK(f.get_u64("v.i64") == std::nullopt);
  CHECK(f.find("v.f32")->type == GgufValueType::FLOAT32);
  CHECK(f.get_f64("v.f32") == static_cast<double>(1.5e-6f));
  CHECK(f.get_f64("v.f64") == 3.141592653589793);
  CHECK(f.get_bool("v.bool") == true);
  CHECK(f.get_string("v.str") == std::string("h\xC3\xA9llo\0x", 8));
  const GgufArray* s = f.get_array("a.str");
  REQUIRE(s != nullptr);
  CHECK(s->strings == std::vector<std::string>{"a", "", "<0x0A>", "\xE2\x96\x81the"});
  CHECK(f.get_array("a.i32")->ints == std::vector<int64_t>{1, -2, 3});
  CHECK(f.get_array("a.i32")->type == GgufValueType::INT32);
  CHECK(f.get_array("a.u8")->ints == std::vector<int64_t>{0, 255});
  CHECK(f.get_array("a.bool")->type == GgufValueType::BOOL);
  CHECK(f.get_array("a.bool")->ints == std::vector<int64_t>{1, 0, 1});
  CHECK(f.get_array("a.f32")->floats == std::vector<double>{0.5, -1.25});
  CHECK(f.get_array("a.f64")->floats == std::vector<double>{1e300});
  CHECK(f.get_array("a.empty")->size() == 0);

  REQUIRE(f.tensors().size() == 5);
  struct Want { const char* name; GgmlType type; std::vector<int64_t> dims; size_t bytes; uint8_t seed; };
  const Want wants[] = {
      {"f32", GgmlType::F32, {3, 2}, 24, 1},
      {"f16", GgmlType::F16, {5}, 10, 2},
      {"q8", GgmlType::Q8_0, {64, 3}, 204, 3},
      {"q4k", GgmlType::Q4_K, {256, 2, 1, 2}, 576, 4},
      {"q6k", GgmlType::Q6_K, {512}, 420, 5},
  };
  for (const auto& w : wants) {
    CAPTURE(w.name);
    const GgufTensorInfo* t = f.find_tensor(w.name);
    REQUIRE(t != nullptr);
    CHECK(t->type == w.type);
    CHECK(t->dims == w.dims);
    CHECK(t->nbytes == w.bytes);
    CHECK(t->offset % alignment == 0);
    CHECK(std::memcmp(t->data, pattern(w.bytes, w.seed).data(), w.bytes) == 0);
  }
}

TEST_CASE("writer round trip: every value type, arrays, tensors") {
  for (uint64_t alignment : {32u, 64u, 1u, 4096u}) {
    CAPTURE(alignment);
    GgufWriter w = sample_writer(alignment);
    auto bytes = w.serialize();
    REQUIRE(bytes.is_ok());
    auto f = GgufFile::from_memory(bytes->data(), bytes->size());
    REQUIRE_MESSAGE(f.is_ok(), f.status().to_string());
    check_sample(**f, alignment);
    CHECK(((*f)->find("general.alignment") != nullptr) == (alignment != 32));
  }
}

TEST_CASE("writer: write() to a file, read back through mmap") {
  testing::TempDir dir;
  std::string path = dir.file("x.gguf");
  REQUIRE(sample_writer(32).write(path).is_ok());
  CHECK(!std::filesystem::exists(path + ".tmp"));
  auto f = GgufFile::open(path);
  REQUIRE_MESSAGE(f.is_ok(), f.status().to_string());
  check_sample(**f, 32);
  CHECK((*f)->path() == path);
}

TEST_CASE("writer: lazy tensors are filled at write time") {
  GgufWriter w;
  int calls = 0;
  REQUIRE(w.add_tensor_lazy("lazy", GgmlType::Q8_0, {32, 2}, [&](std::span<uint8_t> dst) {
    ++calls;
    CHECK(dst.size() == 68);
    for (size_t i = 0; i < dst.size(); ++i) dst[i] = static_cast<uint8_t>(i);
    return Status::ok();
  }).is_ok());
  CHECK(calls == 0);
  auto bytes = w.serialize();
  REQUIRE(bytes.is_ok());
  CHECK(calls == 1);
  auto f = GgufFile::from_memory(bytes->data(), bytes->size());
  REQUIRE(f.is_ok());
  CHECK((*f)->find_tensor("lazy")->data[67] == 67);

  GgufWriter bad;
  REQUIRE(bad.add_tensor_lazy("x", GgmlType::F32, {4}, [](std::span<uint8_t>) {
    return Status::internal("boom");
  }).is_ok());
  CHECK(bad.serialize().status().code() == Code::kInternal);
  testing::TempDir dir;
  CHECK(!bad.write(dir.file("bad.gguf")).is_ok());
  CHECK(!std::filesystem::exists(dir.file("bad.gguf")));
  CHECK(!std::filesystem::exists(dir.file("bad.gguf.tmp")));
}

TEST_CASE("writer rejects bad tensors") {
  GgufWriter w;
  std::vector<uint8_t> d(64);
  CHECK(w.add_tensor("ok", GgmlType::F32, {16}, d).is_ok());
  CHECK(!w.add_tensor("ok", GgmlType::F32, {16}, d).is_ok());                   // duplicate
  CHECK(!w.add_tensor("", GgmlType::F32, {16}, d).is_ok());                     // empty name
  CHECK(!w.add_tensor(std::string(64, 'n'), GgmlType::F32, {16}, d).is_ok());   // too long
  CHECK(!w.add_tensor("a", GgmlType::F32, {15}, d).is_ok());                    // size mismatch
  CHECK(!w.add_tensor("b", GgmlType::F32, {}, d).is_ok());                      // no dims
  CHECK(!w.add_tensor("c", GgmlType::F32, {1, 1, 1, 1, 16}, d).is_ok());        // 5 dims
  CHECK(!w.add_tensor("d", GgmlType::F32, {16, 0}, d).is_ok());                 // zero dim
  CHECK(!w.add_tensor("e", GgmlType::Q8_0, {16}, d).is_ok());                   // not a block
  CHECK(!w.add_tensor("f", GgmlType::F32, {int64_t{1} << 40, int64_t{1} << 40}, d).is_ok());
  CHECK(w.tensor_count() == 1);
  GgufWriter odd(48);
  CHECK(odd.serialize().status().code() == Code::kInvalidArgument);
}

TEST_CASE("tensor_nbytes") {
  CHECK(tensor_nbytes(GgmlType::Q4_K, std::vector<int64_t>{512, 3}) == 2u * 144u * 3u);
  CHECK(tensor_nbytes(GgmlType::Q4_0, std::vector<int64_t>{48}) == std::nullopt);
  CHECK(tensor_nbytes(GgmlType::F32, std::vector<int64_t>{int64_t{1} << 62, 4}) == std::nullopt);
  CHECK(tensor_nbytes(GgmlType::F32, std::vector<int64_t>{int64_t{1} << 62}) == std::nullopt);
}

}  // namespace
}  // namespace scn::inference
