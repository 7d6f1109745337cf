// Corrupted and truncated copies of a real file: open() must answer with a
// clean error (never crash, never read out of bounds) at every position.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "inference/gguf/gguf.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::vector<uint8_t>& stories() {
  static const std::vector<uint8_t> bytes = read_all(testing::shared_path("models/stories260K.gguf"));
  return bytes;
}

// Where the header (metadata + tensor infos) ends, measured by parsing.
size_t header_end(const GgufFile& f) {
  size_t first = f.file_size();
  for (const auto& t : f.tensors()) first = std::min(first, static_cast<size_t>(t.data - stories().data()));
  return first;
}

// Opens the first `size` bytes of `bytes`, touching all tensor data.
Status open_prefix(const uint8_t* bytes, size_t size) {
  auto r = GgufFile::from_memory(bytes, size);
  if (!r.is_ok()) return r.status();
  // Touch everything a caller could touch.
  for (const auto& t : (*r)->tensors()) {
    volatile uint8_t x = t.data[0];
    x = t.data[t.nbytes - 1];
    (void)x;
  }
  return Status::ok();
}

// Same over a fresh allocation of exactly `size` bytes, so that reads past
// the end are caught by sanitizers.
Status open_copy(const std::vector<uint8_t>& bytes, size_t size) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[std::max<size_t>(size, 1)]);
  std::memcpy(copy.get(), bytes.data(), size);
  return open_prefix(copy.get(), size);
}

// Position of the 8-byte length that precedes string `s` in the file.
size_t string_pos(const std::vector<uint8_t>& b, std::string_view s) {
  auto it = std::search(b.begin(), b.end(), s.begin(), s.end());
  REQUIRE(it != b.end());
  return static_cast<size_t>(it - b.begin()) - 8;
}

template <typename T>
std::vector<uint8_t> with(std::vector<uint8_t> b, size_t pos, T value) {
  std::memcpy(b.data() + pos, &value, sizeof value);
  return b;
}

TEST_CASE("truncation at every header byte and a sample of data bytes fails cleanly") {
  const auto& b = stories();
  REQUIRE(b.size() > 1000000);
  REQUIRE(open_copy(b, b.size()).is_ok());
  auto f = GgufFile::from_memory(b.data(), b.size());
  REQUIRE(f.is_ok());
  size_t hdr = header_end(**f);
  CHECK(hdr > 14000);
  for (size_t n = 0; n < b.size(); n += (n <= hdr ? 1 : 997)) {
    Status st = n <= hdr ? open_copy(b, n) : open_prefix(b.data(), n);
    if (st.is_ok()) FAIL("truncated to ", n, " bytes opened");
    if (st.code() != Code::kCorruptData) FAIL("truncated to ", n, ": ", st.to_string());
  }
  Status last = open_copy(b, b.size() - 1);
  CHECK(last.code() == Code::kCorruptData);
  CHECK(last.message().find("past the end of the file") != std::string::npos);
}

TEST_CASE("overwriting any header byte never crashes") {
  const auto& b = stories();
  auto f = GgufFile::from_memory(b.data(), b.size());
  REQUIRE(f.is_ok());
  size_t hdr = header_end(**f);
  std::vector<uint8_t> copy = b;
  int failures = 0;
  for (size_t pos = 0; pos < hdr; ++pos) {
    // One overwrite per byte, cycling through: all ones (huge lengths and
    // counts), zero, and a flip of two bits.
    const uint8_t v = pos % 3 == 0 ? 0xFF : pos % 3 == 1 ? 0x00 : static_cast<uint8_t>(b[pos] ^ 0x41);
    if (v == b[pos]) continue;
    copy[pos] = v;
    Status st = open_prefix(copy.data(), copy.size());  // exact size: no copy needed
    if (!st.is_ok()) {
      ++failures;
      CHECK_MESSAGE(!st.message().empty(), pos);
    }
    copy[pos] = b[pos];
  }
  // Most header bytes are lengths, counts, ids and offsets: many must fail.
  CHECK(failures > 500);
}

TEST_CASE("targeted corruption of counts, lengths, type ids, offsets") {
  const auto& b = stories();
  const size_t tokens_key = string_pos(b, "tokenizer.ggml.tokens");
  const size_t tokens_arr = tokens_key + 8 + 21 + 4;  // after key and value type: element type
  const size_t emb = string_pos(b, "token_embd.weight");
  const size_t emb_ndims = emb + 8 + 17;
  const size_t emb_dim0 = emb_ndims + 4;
  const size_t emb_type = emb_dim0 + 16;
  const size_t emb_off = emb_type + 4;
  const size_t out = string_pos(b, "output.weight");
  const size_t out_off = out + 8 + 13 + 4 + 16 + 4;
  uint64_t out_offset = 0;
  std::memcpy(&out_offset, b.data() + out_off, 8);
  REQUIRE(out_offset == 131328);  // checks the layout arithmetic above
  const size_t eos = string_pos(b, "tokenizer.ggml.eos_token_id");
  const size_t blk1q = string_pos(b, "blk.1.attn_q.weight");

  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    Code code;
    const char* message;
  };
  const Case cases[] = {
      {"magic", with<uint32_t>(b, 0, 0x46554748), Code::kCorruptData, "magic"},
      {"version 1", with<uint32_t>(b, 4, 1), Code::kUnprocessable, "version 1"},
      {"version 4", with<uint32_t>(b, 4, 4), Code::kCorruptData, "version"},
      {"tensor count", with<uint64_t>(b, 8, uint64_t{1} << 60), Code::kCorruptData, "tensor count"},
      {"tensor count +1", with<uint64_t>(b, 8, 49), Code::kCorruptData, ""},
      {"kv count", with<uint64_t>(b, 16, ~uint64_t{0}), Code::kCorruptData, "metadata count"},
      {"kv count +1", with<uint64_t>(b, 16, 20), Code::kCorruptData, ""},
      {"key length", with<uint64_t>(b, tokens_key, uint64_t{1} << 62), Code::kCorruptData, "length"},
      {"key length 0", with<uint64_t>(b, tokens_key, 0), Code::kCorruptData, ""},
      {"value type", with<uint32_t>(b, tokens_arr - 4, 13), Code::kCorruptData, "value type"},
      {"array element type", with<uint32_t>(b, tokens_arr, 77), Code::kCorruptData, "value type"},
      {"nested array", with<uint32_t>(b, tokens_arr, 9), Code::kUnprocessable, "nested"},
      {"array length", with<uint64_t>(b, tokens_arr + 4, uint64_t{1} << 61), Code::kCorruptData, "array length"},
      {"string length", with<uint64_t>(b, tokens_arr + 12, 1000000000), Code::kCorruptData, "length"},
      {"duplicate key", with<char>(b, eos + 8 + 15, 'b'), Code::kCorruptData, "duplicate"},
      {"tensor name length", with<uint64_t>(b, emb, 70), Code::kCorruptData, "name length"},
      {"duplicate tensor", with<char>(b, blk1q + 8 + 4, '0'), Code::kCorruptData, "duplicate"},
      {"n_dims 0", with<uint32_t>(b, emb_ndims, 0), Code::kCorruptData, "dimension count"},
      {"n_dims 5", with<uint32_t>(b, emb_ndims, 5), Code::kCorruptData, "dimension count"},
      {"dim negative", with<int64_t>(b, emb_dim0, -64), Code::kCorruptData, "dimension 0"},
      {"dim zero", with<int64_t>(b, emb_dim0, 0), Code::kCorruptData, "dimension 0"},
      {"dims overflow", with<int64_t>(b, emb_dim0, int64_t{1} << 60), Code::kCorruptData, ""},
      {"unknown type", with<uint32_t>(b, emb_type, 99), Code::kCorruptData, "unknown tensor type id 99"},
      {"unsupported type", with<uint32_t>(b, emb_type, 10), Code::kUnprocessable, "q2_K"},
      {"row not a block", with<uint32_t>(b, emb_type, 12), Code::kCorruptData, "multiple"},
      {"misaligned offset", with<uint64_t>(b, emb_off, 4), Code::kCorruptData, "alignment"},
      {"offset past end", with<uint64_t>(b, emb_off, 1 << 30), Code::kCorruptData, "past the end"},
      {"offset overflow", with<uint64_t>(b, emb_off, ~uint64_t{31}), Code::kCorruptData, "past the end"},
      {"overlap", with<uint64_t>(b, out_off, 131072), Code::kCorruptData, "overlaps"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    Status st = open_copy(c.bytes, c.bytes.size());
    CHECK(!st.is_ok());
    CHECK(st.code() == c.code);
    CHECK_MESSAGE(st.message().find(c.message) != std::string::npos, st.message());
  }
}

TEST_CASE("bad general.alignment values") {
  GgufWriter w;
  w.set("general.alignment", GgufValue::u32(32));
  const std::vector<uint8_t> good = w.to_bytes();
  REQUIRE(open_copy(good, good.size()).is_ok());
  // header (24) + key length (8) + "general.alignment" (17) + value type (4)
  constexpr size_t kValuePos = 24 + 8 + 17 + 4;
  uint32_t stored = 0;
  std::memcpy(&stored, good.data() + kValuePos, 4);
  REQUIRE(stored == 32);
  for (uint32_t a : {0u, 3u, 48u, 1u << 31}) {
    CAPTURE(a);
    Status st = open_copy(with<uint32_t>(good, kValuePos, a), good.size());
    CHECK(st.code() == Code::kCorruptData);
    CHECK(st.message().find("general.alignment") != std::string::npos);
  }
  Status st = open_copy(with<uint32_t>(good, kValuePos - 4, 8), good.size());  // type: string
  CHECK(!st.is_ok());
  CHECK(GgufWriter(48).serialize().status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace scn::inference
