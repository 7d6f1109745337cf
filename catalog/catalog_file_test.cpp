#include "catalog/catalog_file.h"

#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>

#include "catalog/gguf_card.h"
#include "inference/gguf/gguf.h"
#include "tests/testing.h"

namespace scn::catalog {
namespace {

namespace fs = std::filesystem;

std::string demo_catalog_path() {
  return (fs::path(__FILE__).parent_path() / "demo_catalog.json").string();
}

// The figures of each model's Hugging Face config.json (checked by hand
// against the published files), and what they imply.
struct HfConfig {
  const char* name;
  const char* arch;
  int64_t hidden, layers, heads, kv_heads, head_dim, intermediate, vocab, context;
  bool tied;
};
constexpr HfConfig kHf[] = {
    {"deepseek-r1-distill-qwen-1.5b", "qwen2", 1536, 28, 12, 2, 128, 8960, 151936, 131072, false},
    {"deepseek-r1-distill-qwen-7b", "qwen2", 3584, 28, 28, 4, 128, 18944, 152064, 131072, false},
    {"deepseek-r1-distill-qwen-14b", "qwen2", 5120, 48, 40, 8, 128, 13824, 152064, 131072, false},
    {"deepseek-r1-distill-qwen-32b", "qwen2", 5120, 64, 40, 8, 128, 27648, 152064, 131072, false},
    {"deepseek-r1-distill-llama-8b", "llama", 4096, 32, 32, 8, 128, 14336, 128256, 131072, false},
    {"deepseek-r1-distill-llama-70b", "llama", 8192, 80, 64, 8, 128, 28672, 128256, 131072, false},
    {"qwen2.5-0.5b-instruct", "qwen2", 896, 24, 14, 2, 64, 4864, 151936, 32768, true},
    {"qwen2.5-1.5b-instruct", "qwen2", 1536, 28, 12, 2, 128, 8960, 151936, 32768, true},
    {"qwen2.5-3b-instruct", "qwen2", 2048, 36, 16, 2, 128, 11008, 151936, 32768, true},
    {"qwen2.5-7b-instruct", "qwen2", 3584, 28, 28, 4, 128, 18944, 152064, 32768, false},
    {"qwen2.5-14b-instruct", "qwen2", 5120, 48, 40, 8, 128, 13824, 152064, 32768, false},
    {"qwen2.5-32b-instruct", "qwen2", 5120, 64, 40, 8, 128, 27648, 152064, 32768, false},
    {"qwen2.5-72b-instruct", "qwen2", 8192, 80, 64, 8, 128, 29568, 152064, 32768, false},
    {"llama-3.1-8b-instruct", "llama", 4096, 32, 32, 8, 128, 14336, 128256, 131072, false},
    {"llama-3.3-70b-instruct", "llama", 8192, 80, 64, 8, 128, 28672, 128256, 131072, false},
    {"gemma-2-2b-it", "gemma2", 2304, 26, 8, 4, 256, 9216, 256000, 8192, true},
    {"gemma-2-9b-it", "gemma2", 3584, 42, 16, 8, 256, 14336, 256000, 8192, true},
    {"gemma-2-27b-it", "gemma2", 4608, 46, 32, 16, 128, 36864, 256000, 8192, true},
};

// Weights of a decoder: attention (q, k, v, o; qwen2 has q/k/v biases), a
// gated MLP (3 matrices), RMS norms (2 per layer, 4 for Gemma 2), the final
// norm, the embeddings and, unless tied, the output matrix.
int64_t parameter_count(const HfConfig& c) {
  const int64_t q = c.heads * c.head_dim, kv = c.kv_heads * c.head_dim;
  int64_t layer = c.hidden * q + 2 * c.hidden * kv + q * c.hidden + 3 * c.hidden * c.intermediate;
  if (std::string(c.arch) == "qwen2") layer += q + 2 * kv;
  layer += (std::string(c.arch) == "gemma2" ? 4 : 2) * c.hidden;
  return c.layers * layer + c.hidden + c.vocab * c.hidden * (c.tied ? 1 : 2);
}

// "qwen2.5-7b-instruct" -> 7e9, "deepseek-r1-distill-qwen-1.5b" -> 1.5e9.
double size_label(const std::string& name) {
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '-' || i + 1 >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i + 1])))
      continue;
    size_t j = i + 1;
    while (j < name.size() && (std::isdigit(static_cast<unsigned char>(name[j])) || name[j] == '.')) ++j;
    if (j < name.size() && name[j] == 'b' && (j + 1 == name.size() || name[j + 1] == '-'))
      return std::stod(name.substr(i + 1, j - i - 1)) * 1e9;
  }
  return 0;
}

TEST_CASE("the demo catalog parses and has the true figures of every model") {
  auto cat = load_catalog_file(demo_catalog_path());
  REQUIRE_MESSAGE(cat.is_ok(), cat.status().to_string());
  CHECK(cat->models.size() == 1 + std::size(kHf));
  for (const auto& hf : kHf) {
    CAPTURE(hf.name);
    const ModelCard* c = cat->find(hf.name);
    REQUIRE(c != nullptr);
    const ModelFacts& f = c->facts;
    CHECK(f.architecture == hf.arch);
    CHECK(f.hidden_size == hf.hidden);
    CHECK(f.n_layers == hf.layers);
    CHECK(f.n_heads == hf.heads);
    CHECK(f.n_kv_heads == hf.kv_heads);
    CHECK(f.head_dim == hf.head_dim);
    CHECK(f.vocab_size == hf.vocab);
    CHECK(f.context_length == hf.context);
    CHECK(f.parameters == parameter_count(hf));
  }
}

TEST_CASE("every demo card is self-consistent") {
  auto cat = load_catalog_file(demo_catalog_path());
  REQUIRE(cat.is_ok());
  for (const auto& c : cat->models) {
    CAPTURE(c.name);
    const ModelFacts& f = c.facts;
    CHECK(f.n_heads % f.n_kv_heads == 0);
    // hidden = heads x head_dim, except Gemma 2, whose heads are wider or
    // narrower than hidden / heads.
    if (c.family == "gemma2")
      CHECK(f.hidden_size != f.n_heads * f.head_dim);
    else
      CHECK(f.hidden_size == f.n_heads * f.head_dim);
    CHECK(f.parameters > f.vocab_size * f.hidden_size);  // more than the embeddings
    if (double label = size_label(c.name); label > 0) {
      CHECK(f.parameters > 0.75 * label);
      CHECK(f.parameters < 1.35 * label);
    }
    REQUIRE(!c.files.empty());
    for (const auto& file : c.files) {
      CAPTURE(quant_name(file.quantization));
      CHECK(file.file_name.find(".gguf") != std::string::npos);
      if (file.weights_present()) {
        CHECK(file.size_source == SizeSource::kExact);
        CHECK(file.sha256.has_value());
      } else {
        CHECK_FALSE(file.sha256.has_value());
        CHECK(file.size_source == SizeSource::kEstimated);
        CHECK(file.size_bytes == estimate_file_bytes(f.parameters, file.quantization).value());
        CHECK(check_launchable(c, file).code() == Code::kConflict);
      }
    }
    if (c.name != "stories260k") {
      CHECK(c.file(Quant::kQ4_K_M) != nullptr);
      CHECK(c.file(Quant::kQ8_0) != nullptr);
      if (f.parameters < 4'000'000'000) CHECK(c.file(Quant::kF16) != nullptr);
      CHECK(c.source_url.has_value());
    }
  }
}

TEST_CASE("the demo's stories260K is the real file in ../shared") {
  auto cat = load_catalog_file(demo_catalog_path());
  REQUIRE(cat.is_ok());
  const ModelCard* s = cat->find("stories260k");
  REQUIRE(s != nullptr);
  REQUIRE(s->files.size() == 1);
  const ModelFile& f = s->files[0];
  CHECK(f.weights_present());
  CHECK(*f.uri == "file://models/stories260K.gguf");  // relative to the shared folder
  CHECK(*f.sha256 == "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");

  const fs::path shared = scn::testing::shared_dir();
  if (!fs::exists(shared / "models/stories260K.gguf")) {
    if (scn::testing::in_ci()) FAIL("missing ../shared/models/stories260K.gguf");
    return;
  }
  Catalog resolved = cat.value();
  REQUIRE(resolve_local_files(resolved, {shared, true}).is_ok());
  const ModelFile& rf = resolved.find("stories260k")->files[0];
  CHECK(rf.uri->rfind("file:///", 0) == 0);
  // The card's facts are those of the file itself.
  const std::string path = rf.uri->substr(7);
  auto gguf = inference::GgufFile::open(path);
  REQUIRE(gguf.is_ok());
  auto from_file = card_from_gguf(**gguf, path);
  REQUIRE(from_file.is_ok());
  CHECK(from_file->facts == s->facts);
  CHECK(from_file->files[0].size_bytes == f.size_bytes);
  CHECK(from_file->files[0].uri == rf.uri);
}

TEST_CASE("a catalog survives a round trip through its JSON form") {
  auto cat = load_catalog_file(demo_catalog_path());
  REQUIRE(cat.is_ok());
  auto again = parse_catalog(boost::json::serialize(catalog_to_json(*cat)));
  REQUIRE_MESSAGE(again.is_ok(), again.status().to_string());
  CHECK(*again == *cat);
}

// A valid model entry; each bad case below edits one piece of it.
std::string model(const std::string& model_fields = "", const std::string& file_fields = "") {
  return R"({"name": "m-1", "display_name": "M", "family": "f",
    "architecture": "llama", "parameters": 1000000, "n_layers": 2, "hidden_size": 64,
    "n_heads": 8, "n_kv_heads": 4, "head_dim": 8, "context_length": 512,
    "vocab_size": 100, "licence": "MIT")" +
         model_fields + R"(, "files": [{"quantization": "Q8_0", "file_name": "m.gguf",
    "size_bytes": 1000, "weights_present": false)" +
         file_fields + "}]}";
}
std::string doc_of(const std::string& models) {
  return R"({"version": 1, "models": [)" + models + "]}";
}
std::string doc(const std::string& model_fields = "", const std::string& file_fields = "") {
  return doc_of(model(model_fields, file_fields));
}
// `text` with the first `from` replaced by `to` (which must be there).
std::string edit(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return text.replace(at, from.size(), to);
}

TEST_CASE("the minimal document is valid") {
  auto cat = parse_catalog(doc());
  REQUIRE_MESSAGE(cat.is_ok(), cat.status().to_string());
  REQUIRE(cat->models.size() == 1);
  CHECK(cat->models[0].files[0].size_source == SizeSource::kExact);
  CHECK(cat->models[0].description.empty());
  // An estimated size may be left out: it is computed.
  auto est = parse_catalog(R"({"version": 1, "models": [{"name": "m", "display_name": "M",
    "family": "f", "architecture": "llama", "parameters": 1000, "n_layers": 2, "hidden_size": 64,
    "n_heads": 8, "n_kv_heads": 4, "head_dim": 8, "context_length": 512, "vocab_size": 100,
    "licence": "MIT", "files": [{"quantization": "q4_k_m", "file_name": "m.gguf",
    "size_source": "estimated", "weights_present": false}]}]})");
  REQUIRE_MESSAGE(est.is_ok(), est.status().to_string());
  CHECK(est->models[0].files[0].quantization == Quant::kQ4_K_M);
  CHECK(est->models[0].files[0].size_bytes == 607);  // ceil(1000 x 4.85 / 8)
}

TEST_CASE("bad catalog files give errors naming the entry and the field") {
  const std::string sha = std::string(64, 'a');
  struct Case {
    const char* what;
    std::string text;
    const char* message;  // a substring of the error
  };
  const std::string present = R"("weights_present": true, "uri": "file:///m.gguf", "sha256": ")" + sha + "\"";
  const Case cases[] = {
      {"not JSON", "{", "invalid JSON"},
      {"not an object", "[]", "expected a JSON object"},
      {"no version", R"({"models": []})", "field 'version' is required"},
      {"future version", R"({"version": 2, "models": []})", "version 2 is not supported"},
      {"unknown top field", R"({"version": 1, "models": [], "modles": 1})", "unknown field 'modles'"},
      {"model not object", R"({"version": 1, "models": [3]})", "models[0] must be an object"},
      {"unknown quantization", edit(doc(), "Q8_0", "Q3_XS"),
       "models[0] (m-1): files[0] (Q3_XS): field 'quantization': unknown quantization 'Q3_XS' (known: F32"},
      {"bad name", edit(doc(), "m-1", "-bad"), "models[0] (-bad): field 'name' must match"},
      {"missing licence", edit(doc(), R"(, "licence": "MIT")", ""),
       "models[0] (m-1): field 'licence' is required"},
      {"string for an integer", edit(doc(), R"("n_layers": 2)", R"("n_layers": "2")"),
       "models[0] (m-1): field 'n_layers' must be an integer"},
      {"zero heads", edit(doc(), R"("n_kv_heads": 4)", R"("n_kv_heads": 0)"),
       "field 'n_kv_heads' must be positive"},
      {"kv heads not dividing", edit(doc(), R"("n_kv_heads": 4)", R"("n_kv_heads": 3)"),
       "field 'n_kv_heads' (3) must divide n_heads (8)"},
      {"context too large", edit(doc(), R"("context_length": 512)", R"("context_length": 4294967296)"),
       "field 'context_length' is larger than 2147483647"},
      {"unknown model field", doc(R"(, "n_kv_head": 4)"), "models[0] (m-1): unknown field 'n_kv_head'"},
      {"bad source_url", doc(R"(, "source_url": "ftp://x")"), "field 'source_url' must be an http"},
      {"empty display name", edit(doc(), R"("display_name": "M")", R"("display_name": "")"),
       "field 'display_name' must not be empty"},
      {"no files", doc_of(model().substr(0, model().find(R"(, "files": [)")) + R"(, "files": []})"),
       "models[0] (m-1): field 'files' must list at least one file"},
      {"duplicate model", doc_of(model() + ", " + model()),
       "models[1] (m-1): model name 'm-1' is listed twice"},
      {"sha256 without weights", doc("", R"(, "sha256": ")" + sha + "\""),
       "files[0] (Q8_0): field 'sha256' must be null when weights_present is false"},
      {"uri without weights", doc("", R"(, "uri": "https://x/m.gguf")"),
       "field 'uri' must be null when weights_present is false"},
      {"weights without sha256",
       edit(doc(), R"("weights_present": false)", R"("weights_present": true, "uri": "file:///m.gguf")"),
       "field 'sha256' is required when weights_present is true"},
      {"weights without uri",
       edit(doc(), R"("weights_present": false)", R"("weights_present": true, "sha256": ")" + sha + "\""),
       "field 'uri' is required when weights_present is true"},
      {"upper-case sha256", edit(edit(doc(), R"("weights_present": false)", present), sha, std::string(64, 'A')),
       "field 'sha256' must be 64 lower-case hex digits"},
      {"bad uri scheme", edit(edit(doc(), R"("weights_present": false)", present), "file:///m.gguf", "s3://b/m"),
       "field 'uri' must be an http://, https:// or file:// URI"},
      {"present but estimated",
       edit(doc("", R"(, "size_source": "estimated")"), R"("weights_present": false)", present),
       "field 'size_source' must be \"exact\" when weights_present is true"},
      {"no weights_present", edit(doc(), R"(, "weights_present": false)", ""),
       "field 'weights_present' is required"},
      {"negative size", edit(doc(), R"("size_bytes": 1000)", R"("size_bytes": -1)"),
       "field 'size_bytes' must be positive"},
      {"exact size missing", edit(doc(), R"("size_bytes": 1000, )", ""), "field 'size_bytes' is required"},
      {"bad size_source", doc("", R"(, "size_source": "guess")"),
       "field 'size_source' must be \"exact\" or \"estimated\""},
      {"path in file_name", edit(doc(), R"("m.gguf")", R"("a/m.gguf")"),
       "field 'file_name' must be a bare file name"},
      {"unknown file field", doc("", R"(, "md5": "x")"), "files[0] (Q8_0): unknown field 'md5'"},
      {"file not object", edit(doc(), R"("files": [)", R"("files": [1, )"),
       "models[0] (m-1): files[0] must be an object"},
      {"same quantization twice",
       edit(doc(), R"("files": [)",
            R"("files": [{"quantization": "Q8_0", "file_name": "m.gguf", "size_bytes": 1, "weights_present": false}, )"),
       "models[0] (m-1): files[1] (Q8_0): quantization Q8_0 is listed twice"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto r = parse_catalog(c.text);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_MESSAGE(r.status().message().find(c.message) != std::string::npos, r.status().message());
  }
}

TEST_CASE("load_catalog_file names the file it cannot read") {
  auto r = load_catalog_file("/nonexistent/catalog.json");
  CHECK(r.status().code() == Code::kIoError);
  CHECK(r.status().message().find("/nonexistent/catalog.json") != std::string::npos);
}

TEST_CASE("resolve_local_files resolves relative file:// URIs and checks the files") {
  scn::testing::TempDir shared;
  fs::create_directories(shared.path() / "models");
  std::ofstream(shared.path() / "models/m.gguf", std::ios::binary) << "abc";
  const std::string abc_sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  auto make = [&](const std::string& uri, int64_t size, const std::string& sha) {
    const std::string text =
        edit(doc(), R"("size_bytes": 1000, "weights_present": false)",
             R"("size_bytes": )" + std::to_string(size) + R"(, "weights_present": true, "uri": ")" +
                 uri + R"(", "sha256": ")" + sha + "\"");
    auto c = parse_catalog(text);
    REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
    return std::move(c).value();
  };
  {
    Catalog c = make("file://models/m.gguf", 3, abc_sha);
    REQUIRE(resolve_local_files(c, {shared.path(), true}).is_ok());
    CHECK(*c.models[0].files[0].uri == "file://" + fs::canonical(shared.path() / "models/m.gguf").string());
    // Absolute URIs are checked the same way; resolving twice changes nothing.
    Catalog again = c;
    REQUIRE(resolve_local_files(again, {"/elsewhere", true}).is_ok());
    CHECK(again == c);
  }
  {
    Catalog c = make("file://models/missing.gguf", 3, abc_sha);
    Status st = resolve_local_files(c, {shared.path(), true});
    CHECK(st.code() == Code::kNotFound);
    CHECK(st.message().find("model 'm-1' file Q8_0") != std::string::npos);
  }
  {
    Catalog c = make("file://models/m.gguf", 4, abc_sha);
    Status st = resolve_local_files(c, {shared.path(), true});
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.message().find("the catalog says 4 bytes") != std::string::npos);
    Catalog unchecked = make("file://models/m.gguf", 4, abc_sha);
    CHECK(resolve_local_files(unchecked, {shared.path(), false}).is_ok());
  }
  {
    Catalog c = make("file://models/m.gguf", 3, std::string(64, '0'));
    Status st = resolve_local_files(c, {shared.path(), true});
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.message().find("sha256 of") != std::string::npos);
  }
  {
    Catalog c = make("https://models.example/m.gguf", 4, abc_sha);  // not local: untouched
    REQUIRE(resolve_local_files(c, {shared.path(), true}).is_ok());
    CHECK(*c.models[0].files[0].uri == "https://models.example/m.gguf");
  }
}

TEST_CASE("the API view of a card carries ids and requirements") {
  auto cat = load_catalog_file(demo_catalog_path());
  REQUIRE(cat.is_ok());
  ModelCard c = *cat->find("qwen2.5-7b-instruct");
  c.id = "model-id";
  c.files[0].id = "file-id";
  boost::json::object v = card_view_json(c);
  CHECK(v.at("id").as_string() == "model-id");
  CHECK(v.at("name").as_string() == "qwen2.5-7b-instruct");
  const auto& f = v.at("files").as_array().at(0).as_object();
  CHECK(f.at("id").as_string() == "file-id");
  CHECK(f.at("weights_present").as_bool() == false);
  const auto& r = f.at("requirements").as_object();
  CHECK(r.at("kv_bytes_per_token").as_int64() == 114688);  // float32 cache
  CHECK(r.at("kv_element_bytes").as_int64() == 4);
  CHECK(r.at("weight_bytes").as_int64() == c.files[0].size_bytes);
  CHECK(r.at("bytes_at_max_context").as_int64() ==
        c.files[0].size_bytes + int64_t{114688} * 32768 + kDefaultRuntimeOverheadBytes);
}

}  // namespace
}  // namespace scn::catalog
