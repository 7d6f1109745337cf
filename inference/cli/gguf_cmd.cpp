// `scn gguf info|quantize|synth|import-tokenizer`.
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "inference/cli/commands.h"
#include "inference/cli/quantize_file.h"
#include "inference/cli/synth.h"
#include "inference/gguf/gguf.h"
#include "inference/tokenizer/hf_import.h"

namespace scn::inference {
namespace {

namespace po = boost::program_options;

constexpr const char* kUsage =
    "usage: scn gguf <subcommand> [options]\n"
    "\n"
    "subcommands:\n"
    "  info FILE                   version, metadata and tensor table of a GGUF file\n"
    "  quantize IN OUT TYPE        convert the weights to TYPE (q8_0, q4_0, q4_1, q5_0, q5_1,\n"
    "                              q4_K, q5_K, q6_K, f16, bf16, f32, or the q4_K_M mix)\n"
    "  synth --like NAME --type T OUT\n"
    "                              random weights in the exact shapes of a real model\n"
    "  import-tokenizer tokenizer.json OUT.gguf\n"
    "                              a Hugging Face BPE tokenizer as a vocab-only GGUF\n"
    "\n"
    "`scn gguf <subcommand> --help` describes a subcommand's options.\n";

int fail(const Status& st) {
  std::fprintf(stderr, "scn gguf: %s\n", st.to_string().c_str());
  return 1;
}

// Parses argv with `desc` and positional names; prints help on --help or errors.
// Returns -1 to go on, else the exit code.
int parse(int argc, char** argv, const std::string& usage, po::options_description& desc,
          const std::vector<std::string>& positional, po::variables_map& vm) {
  desc.add_options()("help,h", "show this help");
  po::positional_options_description pos;
  for (const auto& p : positional) pos.add(p.c_str(), 1);
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n" << desc << "\n";
      return 0;
    }
    po::notify(vm);
    for (const auto& p : positional)
      if (!vm.count(p)) throw po::error("missing argument " + p);
  } catch (const po::error& e) {
    std::cerr << "scn gguf: " << e.what() << "\n\n" << usage << "\n" << desc << "\n";
    return 2;
  }
  return -1;
}

std::string escape(const std::string& s, size_t max_len) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max_len) out += "...\" (" + std::to_string(s.size()) + " bytes)";
  else out += "\"";
  return "\"" + out;
}

std::string format_double(double d) {
  std::ostringstream os;
  os.precision(9);
  os << d;
  return os.str();
}

std::string format_value(const GgufValue& v, size_t max_items, size_t max_string) {
  if (const auto* s = v.as_string()) return escape(*s, max_string);
  if (const auto* a = v.as_array()) {
    std::string out = "[";
    const size_t n = a->size(), shown = std::min(n, max_items);
    for (size_t i = 0; i < shown; ++i) {
      if (i) out += ", ";
      if (a->type == GgufValueType::STRING) out += escape(a->strings[i], 40);
      else if (a->type == GgufValueType::FLOAT32 || a->type == GgufValueType::FLOAT64) out += format_double(a->floats[i]);
      else if (a->type == GgufValueType::BOOL) out += a->ints[i] ? "true" : "false";
      else if (a->type == GgufValueType::UINT64) out += std::to_string(static_cast<uint64_t>(a->ints[i]));
      else out += std::to_string(a->ints[i]);
    }
    if (shown < n) out += (shown ? ", ..." : "...");
    return out + "] (" + std::to_string(n) + " items)";
  }
  if (auto b = v.as_bool()) return *b ? "true" : "false";
  if (v.type == GgufValueType::FLOAT32 || v.type == GgufValueType::FLOAT64) return format_double(*v.as_f64());
  if (auto u = v.as_u64()) return std::to_string(*u);
  if (auto i = v.as_i64()) return std::to_string(*i);
  return "?";
}

std::string type_label(const GgufValue& v) {
  if (const auto* a = v.as_array()) return "array[" + std::string(value_type_name(a->type)) + "]";
  return std::string(value_type_name(v.type));
}

int info_main(int argc, char** argv) {
  const std::string usage = "usage: scn gguf info FILE [--full]";
  po::options_description desc("options");
  desc.add_options()("file", po::value<std::string>(), "the GGUF file")(
      "full", "print arrays and strings whole (default: first items, the count)");
  po::variables_map vm;
  if (int rc = parse(argc, argv, usage, desc, {"file"}, vm); rc >= 0) return rc;
  const bool full = vm.count("full") > 0;
  auto r = GgufFile::open(vm["file"].as<std::string>());
  if (!r.is_ok()) return fail(r.status());
  const GgufFile& f = **r;
  std::printf("file: %s\nGGUF version %u, alignment %llu, %zu bytes\n", f.path().c_str(), f.version(),
              static_cast<unsigned long long>(f.alignment()), f.file_size());
  std::printf("\nmetadata (%zu keys):\n", f.metadata().size());
  for (const auto& [key, value] : f.metadata())
    std::printf("  %-44s %-14s %s\n", key.c_str(), type_label(value).c_str(),
                format_value(value, full ? SIZE_MAX : 8, full ? SIZE_MAX : 160).c_str());
  std::printf("\ntensors (%zu):\n  %-40s %-6s %-24s %14s %14s\n", f.tensors().size(), "name", "type",
              "dims", "offset", "bytes");
  uint64_t bytes = 0;
  int64_t params = 0;
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  for (const auto& t : f.tensors()) {
    std::string dims;
    for (size_t i = 0; i < t.dims.size(); ++i) dims += (i ? " x " : "") + std::to_string(t.dims[i]);
    std::printf("  %-40s %-6s %-24s %14llu %14llu\n", t.name.c_str(), std::string(type_name(t.type)).c_str(),
                dims.c_str(), static_cast<unsigned long long>(t.offset), static_cast<unsigned long long>(t.nbytes));
    bytes += t.nbytes;
    params += t.n_elements();
    auto& e = by_type[std::string(type_name(t.type))];
    ++e.first;
    e.second += t.nbytes;
  }
  std::printf("\ntotals: %zu tensors, %lld parameters, %llu bytes of tensor data (%.2f MiB)\n",
              f.tensors().size(), static_cast<long long>(params), static_cast<unsigned long long>(bytes),
              static_cast<double>(bytes) / (1024.0 * 1024.0));
  for (const auto& [name, e] : by_type)
    std::printf("  %-6s %5d tensors %14llu bytes\n", name.c_str(), e.first, static_cast<unsigned long long>(e.second));
  return 0;
}

int quantize_main(int argc, char** argv) {
  const std::string usage =
      "usage: scn gguf quantize IN OUT TYPE\n"
      "TYPE: q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K, f16, bf16, f32, or q4_K_M\n"
      "(llama.cpp's mix: q6_K output and, on some layers, attn_v/ffn_down; q4_K elsewhere).\n"
      "2-D weights are converted; norms and biases stay; a weight whose row length does not\n"
      "fit the type's block stays as it is (listed).";
  po::options_description desc("options");
  desc.add_options()("in", po::value<std::string>(), "input GGUF")("out", po::value<std::string>(), "output GGUF")(
      "type", po::value<std::string>(), "target type")("quiet,q", "print only the totals");
  po::variables_map vm;
  if (int rc = parse(argc, argv, usage, desc, {"in", "out", "type"}, vm); rc >= 0) return rc;
  std::string report;
  Status st = quantize_file(vm["in"].as<std::string>(), vm["out"].as<std::string>(), vm["type"].as<std::string>(),
                            &report);
  if (!st.is_ok()) return fail(st);
  if (vm.count("quiet")) report = report.substr(report.rfind('\n', report.size() - 2) + 1);
  std::fputs(report.c_str(), stdout);
  return 0;
}

int synth_main(int argc, char** argv) {
  std::string names;
  for (const auto& s : known_shapes()) names += "  " + s.name + (s.test_only ? " (tiny test shape)" : "") + "\n";
  const std::string usage =
      "usage: scn gguf synth --like NAME --type T OUT [--seed S] [--tokenizer tokenizer.json]\n"
      "Random weights in the exact tensor names, shapes and metadata of NAME:\n" + names +
      "T: any `scn gguf quantize` type, e.g. q8_0, q4_0, q4_K_M.";
  po::options_description desc("options");
  desc.add_options()("out", po::value<std::string>(), "output GGUF")(
      "like", po::value<std::string>(), "model shape (see above)")(
      "type", po::value<std::string>()->default_value("q8_0"), "weight type")(
      "seed", po::value<uint64_t>()->default_value(1), "random seed (same seed, same file)")(
      "tokenizer", po::value<std::string>(), "Hugging Face tokenizer.json to import (default: synthetic vocabulary)")(
      "threads", po::value<int>()->default_value(0), "threads (0: all cores)");
  po::variables_map vm;
  if (int rc = parse(argc, argv, usage, desc, {"out"}, vm); rc >= 0) return rc;
  if (!vm.count("like")) {
    std::cerr << "scn gguf synth: --like is required\n\n" << usage << "\n" << desc << "\n";
    return 2;
  }
  const ModelShape* shape = find_shape(vm["like"].as<std::string>());
  if (!shape) {
    std::cerr << "scn gguf synth: unknown model '" << vm["like"].as<std::string>() << "'; known:\n" << names;
    return 2;
  }
  SynthOptions opt;
  opt.type = vm["type"].as<std::string>();
  opt.seed = vm["seed"].as<uint64_t>();
  opt.threads = vm["threads"].as<int>();
  if (vm.count("tokenizer")) opt.tokenizer_json = vm["tokenizer"].as<std::string>();
  std::string report;
  Status st = synth_model(*shape, opt, vm["out"].as<std::string>(), &report);
  if (!st.is_ok()) return fail(st);
  std::fputs(report.c_str(), stdout);
  return 0;
}

int import_tokenizer_main(int argc, char** argv) {
  const std::string usage =
      "usage: scn gguf import-tokenizer tokenizer.json OUT.gguf [--arch NAME]\n"
      "Writes the tokenizer (and tokenizer_config.json beside it, when present) as the\n"
      "tokenizer.ggml.* metadata of a vocab-only GGUF.";
  po::options_description desc("options");
  desc.add_options()("tokenizer", po::value<std::string>(), "tokenizer.json")(
      "out", po::value<std::string>(), "output GGUF")(
      "arch", po::value<std::string>(), "general.architecture to record (e.g. qwen2), as llama.cpp's vocab files do");
  po::variables_map vm;
  if (int rc = parse(argc, argv, usage, desc, {"tokenizer", "out"}, vm); rc >= 0) return rc;
  GgufWriter w;
  if (vm.count("arch")) w.set("general.architecture", GgufValue::str(vm["arch"].as<std::string>()));
  Status st = import_hf_tokenizer(vm["tokenizer"].as<std::string>(), w);
  if (st.is_ok()) st = w.write(vm["out"].as<std::string>());
  if (!st.is_ok()) return fail(st);
  const GgufValue* tokens = w.find("tokenizer.ggml.tokens");
  std::printf("%s: %zu tokens\n", vm["out"].as<std::string>().c_str(),
              tokens && tokens->as_array() ? tokens->as_array()->size() : size_t{0});
  return 0;
}

}  // namespace

int gguf_main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string sub = argv[1];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  try {
    if (sub == "info") return info_main(argc - 1, argv + 1);
    if (sub == "quantize") return quantize_main(argc - 1, argv + 1);
    if (sub == "synth") return synth_main(argc - 1, argv + 1);
    if (sub == "import-tokenizer") return import_tokenizer_main(argc - 1, argv + 1);
  } catch (const std::exception& e) {  // e.g. bad_alloc, boost errors not caught above
    return fail(Status::internal(e.what()));
  }
  std::fprintf(stderr, "scn gguf: unknown subcommand '%s'\n\n%s", sub.c_str(), kUsage);
  return 2;
}

}  // namespace scn::inference
