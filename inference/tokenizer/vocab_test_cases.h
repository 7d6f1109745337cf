// Test helper (header only, used by the tokenizer tests): reads llama.cpp's
// tokenizer test vectors ../shared/vocab/ggml-vocab-*.gguf.inp / .out exactly
// as its tests/test-tokenizer-0.cpp does — texts separated by the line
// "__ggml_vocab_test__" (the separator is "\n__ggml_vocab_test__\n", so a
// text keeps its own inner newlines), one line of ids per text, stripped of
// surrounding whitespace; texts are map keys (a repeated text counts once).
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace scn::inference::testing {

using VocabCases = std::map<std::string, std::vector<int32_t>>;

inline std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Empty when a file is missing or the counts differ (the caller checks).
inline VocabCases read_vocab_cases(const std::string& inp_path, const std::string& out_path) {
  const std::string raw = read_whole_file(inp_path);
  std::vector<std::string> outs;
  {
    std::ifstream in(out_path);
    for (std::string line; std::getline(in, line);) outs.push_back(line);
  }
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inps;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inps.push_back(raw.substr(pos));
      break;
    }
    inps.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  VocabCases cases;
  if (inps.empty() || inps.size() != outs.size()) return cases;
  for (size_t i = 0; i < inps.size(); ++i) {
    std::vector<int32_t> ids;
    std::istringstream ss(outs[i]);
    for (int64_t id; ss >> id;) ids.push_back(static_cast<int32_t>(id));
    cases[inps[i]] = ids;
  }
  return cases;
}

}  // namespace scn::inference::testing
