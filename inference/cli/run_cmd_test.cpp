// `scn run` as a process: the greedy story of stories260K equals llama2.c's
// text byte for byte, prompts continue it, seeds repeat, chat reads stdin,
// usage errors exit 2.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/testing.h"

namespace scn::inference {
namespace {

struct Run {
  int code = -1;
  std::string out;  // stdout only
};

// Runs `scn <args>` with `input` on stdin; stderr goes to *err when given.
Run scn(const std::string& args, const std::string& input = "", std::string* err = nullptr) {
  testing::TempDir dir;
  const std::string in_path = dir.file("stdin"), err_path = dir.file("stderr");
  std::ofstream(in_path) << input;
  const std::string cmd =
      testing::scn_binary() + " " + args + " < " + in_path + " 2> " + err_path;
  Run r;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (err) {
    std::ifstream e(err_path);
    err->assign(std::istreambuf_iterator<char>(e), {});
  }
  return r;
}

std::string model_arg() { return "--model " + testing::shared_path("models/stories260K.gguf"); }

// The TEXT section of ../shared/golden/stories260K.txt (464 bytes).
std::string golden_text() {
  std::ifstream in(testing::shared_path("golden/stories260K.txt"));
  REQUIRE(in.good());
  std::string line, text;
  bool in_text = false;
  while (std::getline(in, line)) {
    if (line.rfind("TEXT", 0) == 0) {
      in_text = true;
    } else if (in_text) {
      if (line.empty()) break;
      if (!text.empty()) text += '\n';
      text += line;
    }
  }
  REQUIRE(text.size() == 464);
  return text;
}

TEST_CASE("scn run: the greedy story from BOS equals llama2.c's text") {
  std::string err;
  for (const char* threads : {"1", "2"}) {
    const Run r = scn("run " + model_arg() + " --temp 0 -n 200 --threads " + threads, "", &err);
    CHECK(r.code == 0);
    CHECK(r.out == golden_text() + "\n");
    CHECK(err.find("generation: 200 tokens") != std::string::npos);
    CHECK(err.find("tok/s") != std::string::npos);
  }
}

TEST_CASE("scn run: a prompt is echoed and continued") {
  const Run r = scn("run " + model_arg() + " --prompt 'Once upon a time' --temp 0 -n 30");
  CHECK(r.code == 0);
  REQUIRE(r.out.size() > 40);
  CHECK(r.out.back() == '\n');
  CHECK(golden_text().rfind(r.out.substr(0, r.out.size() - 1), 0) == 0);
}

TEST_CASE("scn run: the same seed gives the same text") {
  const std::string args = "run " + model_arg() + " -p 'Lily liked to' --temp 0.9 -n 40 --seed ";
  const Run a = scn(args + "7"), b = scn(args + "7");
  CHECK(a.code == 0);
  CHECK(a.out == b.out);
  CHECK(a.out.rfind("Lily liked to", 0) == 0);
}

TEST_CASE("scn run --chat: reads turns from stdin until /exit or end of input") {
  std::string err;
  const Run r = scn("run " + model_arg() + " --chat --temp 0 -n 20", "Hello\nTell me a story\n/exit\n", &err);
  CHECK(r.code == 0);
  CHECK(err.find("chat template 'plain'") != std::string::npos);
  // Three prompts: two answered turns, then /exit.
  size_t prompts = 0;
  for (size_t at = r.out.find("> "); at != std::string::npos; at = r.out.find("> ", at + 2)) ++prompts;
  CHECK(prompts == 3);
  CHECK(err.find("generation: 20 tokens") != std::string::npos);
  const Run eof = scn("run " + model_arg() + " --chat --temp 0 -n 5", "");
  CHECK(eof.code == 0);
}

TEST_CASE("scn run: usage and load errors") {
  std::string err;
  CHECK(scn("run --help").code == 0);
  CHECK(scn("run", "", &err).code == 2);
  CHECK(err.find("--model") != std::string::npos);
  CHECK(scn("run " + model_arg() + " --prompt x --chat").code == 2);
  CHECK(scn("run " + model_arg() + " -n 0").code == 2);
  CHECK(scn("run --model /nonexistent.gguf", "", &err).code == 1);
  CHECK(err.find("/nonexistent.gguf") != std::string::npos);
  CHECK(scn("run " + model_arg() + " --temp -1 -n 3", "", &err).code == 1);
  CHECK(err.find("temperature") != std::string::npos);
}

}  // namespace
}  // namespace scn::inference
