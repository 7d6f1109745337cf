#include "catalog/gguf_card.h"

#include <openssl/evp.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "inference/gguf/gguf.h"

namespace scn::catalog {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

Result<int64_t> positive_key(const inference::GgufFile& file, const std::string& key) {
  auto v = file.get_i64(key);
  if (!v) {
    if (file.find(key) == nullptr) return Status::unprocessable("GGUF key '" + key + "' is missing");
    return Status::unprocessable("GGUF key '" + key + "' is not an integer");
  }
  if (*v <= 0) return Status::unprocessable("GGUF key '" + key + "' must be positive");
  return *v;
}

Result<int64_t> optional_positive_key(const inference::GgufFile& file, const std::string& key,
                                      int64_t fallback) {
  if (file.find(key) == nullptr) return fallback;
  return positive_key(file, key);
}

std::string card_name_from_path(const std::string& path) {
  std::string stem = std::filesystem::path(path).filename().string();
  if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".gguf") == 0) stem.resize(stem.size() - 5);
  std::string out;
  for (char c : stem) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out += ok ? c : '-';
  }
  if (out.empty() || !std::isalnum(static_cast<unsigned char>(out[0]))) out = "m" + out;
  if (out.size() > 128) out.resize(128);
  return out;
}

}  // namespace

Result<std::string> sha256_file(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return Status::io_error("cannot open '" + path + "': " + std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return Status::internal("OpenSSL: cannot start a SHA-256 digest");
  std::vector<unsigned char> buf(1 << 20);
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (n > 0 && EVP_DigestUpdate(ctx.get(), buf.data(), n) != 1)
      return Status::internal("OpenSSL: SHA-256 update failed");
    if (n < buf.size()) {
      if (std::ferror(f.get())) return Status::io_error("cannot read '" + path + "'");
      break;
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1)
    return Status::internal("OpenSSL: SHA-256 final failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

Result<ModelCard> card_from_gguf(const inference::GgufFile& file, const std::string& path) {
  ModelCard card;
  auto arch = file.get_string("general.architecture");
  if (!arch || arch->empty())
    return Status::unprocessable("GGUF key 'general.architecture' is missing");
  ModelFacts& f = card.facts;
  f.architecture = *arch;
  const std::string p = *arch + ".";
  SCN_ASSIGN_OR_RETURN(f.n_layers, positive_key(file, p + "block_count"));
  SCN_ASSIGN_OR_RETURN(f.hidden_size, positive_key(file, p + "embedding_length"));
  SCN_ASSIGN_OR_RETURN(f.n_heads, positive_key(file, p + "attention.head_count"));
  SCN_ASSIGN_OR_RETURN(f.n_kv_heads, optional_positive_key(file, p + "attention.head_count_kv", f.n_heads));
  if (f.n_kv_heads > f.n_heads || f.n_heads % f.n_kv_heads != 0)
    return Status::unprocessable("GGUF key '" + p + "attention.head_count_kv' (" +
                                 std::to_string(f.n_kv_heads) + ") does not divide head_count (" +
                                 std::to_string(f.n_heads) + ")");
  SCN_ASSIGN_OR_RETURN(f.head_dim,
                       optional_positive_key(file, p + "attention.key_length", f.hidden_size / f.n_heads));
  if (f.head_dim <= 0) return Status::unprocessable("GGUF: head dimension is 0");
  SCN_ASSIGN_OR_RETURN(f.context_length, positive_key(file, p + "context_length"));

  if (file.find(p + "vocab_size") != nullptr) {
    SCN_ASSIGN_OR_RETURN(f.vocab_size, positive_key(file, p + "vocab_size"));
  } else if (const auto* tokens = file.get_array("tokenizer.ggml.tokens"); tokens && tokens->size() > 0) {
    f.vocab_size = static_cast<int64_t>(tokens->size());
  } else if (const auto* embd = file.find_tensor("token_embd.weight"); embd && embd->dims.size() == 2) {
    f.vocab_size = embd->ne(1);
  } else {
    return Status::unprocessable("GGUF: no vocabulary size (no " + p +
                                 "vocab_size, tokenizer.ggml.tokens or token_embd.weight)");
  }
  for (const auto& t : file.tensors()) f.parameters += t.n_elements();
  if (f.parameters <= 0) return Status::unprocessable("GGUF: the file has no tensors");

  ModelFile mf;
  SCN_ASSIGN_OR_RETURN(mf.quantization, quant_of_gguf(file));
  mf.file_name = std::filesystem::path(path).filename().string();
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Status::io_error("cannot stat '" + path + "': " + ec.message());
  mf.size_bytes = static_cast<int64_t>(size);
  mf.size_source = SizeSource::kExact;
  SCN_ASSIGN_OR_RETURN(std::string sha, sha256_file(path));
  mf.sha256 = std::move(sha);
  const auto abs = std::filesystem::absolute(path, ec).lexically_normal();
  if (ec) return Status::io_error("cannot resolve '" + path + "': " + ec.message());
  mf.uri = "file://" + abs.string();

  card.name = card_name_from_path(path);
  auto display = file.get_string("general.name");
  card.display_name = (display && !display->empty()) ? *display : card.name;
  auto basename = file.get_string("general.basename");
  card.family = (basename && !basename->empty()) ? *basename : f.architecture;
  auto licence = file.get_string("general.license");
  card.licence = (licence && !licence->empty()) ? *licence : "unspecified";
  card.files.push_back(std::move(mf));
  return card;
}

}  // namespace scn::catalog
