#include "catalog/gguf_card.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "inference/gguf/ggml_type.h"
#include "inference/gguf/gguf.h"
#include "tests/testing.h"

namespace scn::catalog {
namespace {

using inference::GgmlType;
using inference::GgufFile;
using inference::GgufValue;
using inference::GgufWriter;

constexpr const char* kStoriesSha256 =
    "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST_CASE("sha256_file streams a file through SHA-256") {
  scn::testing::TempDir dir;
  write_text(dir.file("abc"), "abc");
  write_text(dir.file("empty"), "");
  auto abc = sha256_file(dir.file("abc"));
  REQUIRE(abc.is_ok());
  CHECK(*abc == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto empty = sha256_file(dir.file("empty"));
  REQUIRE(empty.is_ok());
  CHECK(*empty == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Larger than one 1 MiB read: 3 MiB of 'a'.
  write_text(dir.file("big"), std::string(3 << 20, 'a'));
  auto big = sha256_file(dir.file("big"));
  REQUIRE(big.is_ok());
  CHECK(big->size() == 64);
  CHECK(*big != *abc);
  auto missing = sha256_file(dir.file("nope"));
  CHECK(missing.status().code() == Code::kIoError);
  CHECK(missing.status().message().find("nope") != std::string::npos);
}

TEST_CASE("card_from_gguf on the real stories260K") {
  const std::string path = scn::testing::shared_path("models/stories260K.gguf");
  if (!std::filesystem::exists(path)) {
    if (scn::testing::in_ci()) FAIL("missing " << path);
    MESSAGE("SKIPPED: no " << path);
    return;
  }
  auto file = GgufFile::open(path);
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  auto card = card_from_gguf(**file, path);
  REQUIRE_MESSAGE(card.is_ok(), card.status().to_string());
  const ModelFacts& f = card->facts;
  CHECK(f.architecture == "llama");
  CHECK(f.n_layers == 5);
  CHECK(f.hidden_size == 64);
  CHECK(f.n_heads == 8);
  CHECK(f.n_kv_heads == 4);
  CHECK(f.head_dim == 8);
  CHECK(f.context_length == 2048);
  CHECK(f.vocab_size == 512);
  // token_embd + output (2 x 512 x 64) + output_norm 64 + 5 layers x 45,440.
  CHECK(f.parameters == 292800);
  CHECK(card->name == "stories260K");
  CHECK(card->family == "llama");
  CHECK(card->licence == "unspecified");
  REQUIRE(card->files.size() == 1);
  const ModelFile& mf = card->files[0];
  CHECK(mf.quantization == Quant::kF32);
  CHECK(mf.file_name == "stories260K.gguf");
  CHECK(mf.size_bytes == 1185376);
  CHECK(mf.size_source == SizeSource::kExact);
  REQUIRE(mf.sha256.has_value());
  CHECK(*mf.sha256 == kStoriesSha256);
  REQUIRE(mf.uri.has_value());
  CHECK(mf.uri->rfind("file:///", 0) == 0);
  CHECK(mf.uri->find("stories260K.gguf") != std::string::npos);
  CHECK(mf.weights_present());
  CHECK(check_launchable(*card, mf).is_ok());

  const Requirements r = requirements(*card, mf);
  CHECK(r.kv_bytes_per_token == 1280);
  CHECK(r.fits(512 * kMiB, 2048));
}

// A small GGUF of architecture `arch` with `type` weights.
std::vector<uint8_t> synth_gguf(const std::string& arch, GgmlType type, bool with_layers,
                                std::optional<uint32_t> file_type, bool key_length) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::str(arch));
  w.set("general.name", GgufValue::str("Tiny Test"));
  w.set("general.license", GgufValue::str("Apache-2.0"));
  if (file_type) w.set("general.file_type", GgufValue::u32(*file_type));
  if (with_layers) w.set(arch + ".block_count", GgufValue::u32(2));
  w.set(arch + ".embedding_length", GgufValue::u32(64));
  w.set(arch + ".attention.head_count", GgufValue::u32(2));
  w.set(arch + ".attention.head_count_kv", GgufValue::u32(1));
  if (key_length) w.set(arch + ".attention.key_length", GgufValue::u32(64));
  w.set(arch + ".context_length", GgufValue::u32(8192));
  w.set(arch + ".vocab_size", GgufValue::u32(96));
  std::vector<uint8_t> embd(inference::row_size(type, 64) * 96, 0);
  REQUIRE(w.add_tensor("token_embd.weight", type, {64, 96}, embd).is_ok());
  std::vector<uint8_t> norm(64 * 4, 0);
  REQUIRE(w.add_tensor("output_norm.weight", GgmlType::F32, {64}, norm).is_ok());
  auto bytes = w.serialize();
  REQUIRE(bytes.is_ok());
  return std::move(bytes).value();
}

struct Synth {
  scn::testing::TempDir dir;
  std::string path;
  std::unique_ptr<GgufFile> file;
};

std::unique_ptr<Synth> open_synth(const std::vector<uint8_t>& bytes, const std::string& name) {
  auto s = std::make_unique<Synth>();
  s->path = s->dir.file(name);
  std::ofstream(s->path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                 static_cast<std::streamsize>(bytes.size()));
  auto f = GgufFile::open(s->path);
  REQUIRE_MESSAGE(f.is_ok(), f.status().to_string());
  s->file = std::move(f).value();
  return s;
}

TEST_CASE("card_from_gguf reads raw keys of any architecture") {
  auto s = open_synth(synth_gguf("gemma2", GgmlType::Q8_0, true, std::nullopt, true), "tiny gemma.gguf");
  auto card = card_from_gguf(*s->file, s->path);
  REQUIRE_MESSAGE(card.is_ok(), card.status().to_string());
  CHECK(card->name == "tiny-gemma");  // the space is not allowed in a name
  CHECK(card->display_name == "Tiny Test");
  CHECK(card->family == "gemma2");
  CHECK(card->licence == "Apache-2.0");
  CHECK(card->facts.architecture == "gemma2");
  CHECK(card->facts.n_layers == 2);
  CHECK(card->facts.n_kv_heads == 1);
  CHECK(card->facts.head_dim == 64);  // key_length, not 64 / 2
  CHECK(card->facts.vocab_size == 96);
  CHECK(card->facts.parameters == 64 * 96 + 64);
  CHECK(card->files[0].quantization == Quant::kQ8_0);  // from the tensors
  CHECK(card->files[0].size_bytes == static_cast<int64_t>(std::filesystem::file_size(s->path)));
}

TEST_CASE("quantization from general.file_type wins over the tensor types") {
  auto s = open_synth(synth_gguf("llama", GgmlType::Q8_0, true, 15u, false), "m.gguf");
  auto card = card_from_gguf(*s->file, s->path);
  REQUIRE(card.is_ok());
  CHECK(card->files[0].quantization == Quant::kQ4_K_M);
  CHECK(card->facts.head_dim == 32);  // hidden / heads without key_length
}

TEST_CASE("card_from_gguf errors name what is missing or unsupported") {
  {
    auto s = open_synth(synth_gguf("llama", GgmlType::F16, false, std::nullopt, false), "m.gguf");
    auto card = card_from_gguf(*s->file, s->path);
    CHECK(card.status().code() == Code::kUnprocessable);
    CHECK(card.status().message().find("llama.block_count") != std::string::npos);
  }
  {
    auto s = open_synth(synth_gguf("llama", GgmlType::Q5_1, true, std::nullopt, false), "m.gguf");
    auto card = card_from_gguf(*s->file, s->path);
    CHECK(card.status().code() == Code::kUnprocessable);
    CHECK(card.status().message().find("q5_1") != std::string::npos);
  }
}

}  // namespace
}  // namespace scn::catalog
