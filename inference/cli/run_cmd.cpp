// `scn run --model F [--prompt P | --chat]`: text generation in the
// terminal. The text streams to stdout as it is generated (incomplete UTF-8
// sequences are held back until complete); figures go to stderr at the end.
// Ctrl-C stops the current generation; in --chat, Ctrl-C at the prompt (or
// end of input, or /exit) leaves.
#include <boost/program_options.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "inference/cli/commands.h"
#include "inference/engine/engine.h"
#include "inference/server/text_stream.h"
#include "inference/tokenizer/chat_template.h"
#include "inference/tokenizer/vocab.h"

namespace scn::inference {
namespace {

namespace po = boost::program_options;

constexpr const char* kUsage =
    "usage: scn run --model FILE [--prompt TEXT | --chat] [options]\n"
    "\n"
    "Generates text from a GGUF model in the terminal. Without --prompt or --chat the\n"
    "model starts from BOS alone. --temp 0 is greedy decoding.\n";

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) { g_interrupted.store(true); }

// SIGINT without SA_RESTART, so that a blocking read of the chat prompt
// returns and the loop can leave.
void install_sigint() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
}

struct RunOptions {
  std::string model;
  std::optional<std::string> prompt;
  bool chat = false;
  std::string system;
  int n_predict = 256;
  SamplingParams sampling;
  std::string device = "cpu";
  int threads = 0;
  int ctx = 0;
};

// Writes generated tokens as text: raw token bytes through a UTF-8 decoder
// that holds back incomplete sequences, flushed after each token.
class Printer {
 public:
  Printer(const Vocab& vocab, bool strip_leading_space)
      : vocab_(vocab), strip_(strip_leading_space) {}

  void token(int32_t id) {
    std::string piece = vocab_.token_to_piece(id);
    if (strip_ && !piece.empty()) {
      // Text that starts a fresh output (a story from BOS alone, a chat
      // reply): the first word's SentencePiece space prefix is not part of
      // it (llama.cpp and llama2.c drop it after BOS too).
      if (piece[0] == ' ') piece.erase(0, 1);
      strip_ = false;
    }
    std::string out;
    decoder_.push(piece, out);
    write(out);
  }
  void finish() {
    std::string out;
    decoder_.finish(out);
    write(out);
  }

 private:
  static void write(const std::string& s) {
    if (s.empty()) return;
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  }
  const Vocab& vocab_;
  bool strip_;
  Utf8Decoder decoder_;
};

void print_figures(const GenerateResult& r) {
  auto rate = [](int n, double s) { return s > 0 ? n / s : 0.0; };
  std::fprintf(stderr,
               "[prompt: %d tokens, %.2f s, %.1f tok/s | generation: %d tokens, %.2f s, "
               "%.1f tok/s]\n",
               r.prompt_tokens, r.prompt_seconds, rate(r.prompt_tokens, r.prompt_seconds),
               r.completion_tokens, r.decode_seconds, rate(r.completion_tokens, r.decode_seconds));
}

// Generates from `prompt`, streaming through `printer`; the generated ids go
// to *generated when not null.
Result<GenerateResult> generate(Engine& engine, const RunOptions& opt,
                                std::vector<int32_t> prompt, Printer& printer,
                                std::vector<int32_t>* generated) {
  GenerateRequest req;
  req.prompt = std::move(prompt);
  req.max_tokens = opt.n_predict;
  req.sampling = opt.sampling;
  g_interrupted.store(false);
  auto result = engine.generate(req, [&](const TokenEvent& ev) {
    printer.token(ev.token);
    if (generated) generated->push_back(ev.token);
    return !g_interrupted.load();
  });
  printer.finish();
  return result;
}

int run_once(Engine& engine, const RunOptions& opt) {
  const Vocab& vocab = engine.vocab();
  const std::string text = opt.prompt.value_or("");
  const std::vector<int32_t> tokens = vocab.tokenize(text, true, true);
  if (tokens.empty()) {
    std::fprintf(stderr, "scn run: the prompt is empty and the model has no BOS token\n");
    return 1;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  Printer printer(vocab, text.empty() && vocab.add_space_prefix());
  auto r = generate(engine, opt, tokens, printer, nullptr);
  if (!r.is_ok()) {
    std::fprintf(stderr, "\nscn run: %s\n", r.status().to_string().c_str());
    return 1;
  }
  std::fputc('\n', stdout);
  print_figures(r.value());
  return 0;
}

int run_chat(Engine& engine, const RunOptions& opt) {
  const Vocab& vocab = engine.vocab();
  const ChatTemplate& tmpl = engine.chat_template();
  std::fprintf(stderr, "scn run: chat template '%s'; /exit or Ctrl-D to leave\n",
               std::string(tmpl.name()).c_str());
  std::vector<ChatMessage> messages;
  if (!opt.system.empty()) messages.push_back({"system", opt.system});
  std::string line;
  for (;;) {
    std::fputs("\n> ", stdout);
    std::fflush(stdout);
    g_interrupted.store(false);
    if (!std::getline(std::cin, line) || g_interrupted.load()) break;
    if (line == "/exit" || line == "/quit") break;
    if (line.empty()) continue;
    messages.push_back({"user", line});
    auto text = tmpl.apply(messages, true);
    if (!text.is_ok()) {
      std::fprintf(stderr, "scn run: %s\n", text.status().to_string().c_str());
      messages.pop_back();
      continue;
    }
    Printer printer(vocab, vocab.add_space_prefix());
    std::vector<int32_t> reply;
    auto r = generate(engine, opt, vocab.tokenize(text.value(), true, true), printer, &reply);
    if (!r.is_ok()) {
      std::fprintf(stderr, "\nscn run: %s\n", r.status().to_string().c_str());
      messages.pop_back();
      continue;
    }
    messages.push_back({"assistant", vocab.detokenize(reply)});
    std::fputc('\n', stdout);
    print_figures(r.value());
  }
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

int run_main(int argc, char** argv) {
  RunOptions opt;
  po::options_description desc("options");
  float temp = 0.8f;
  desc.add_options()
      ("help,h", "show this help")
      ("model,m", po::value<std::string>(&opt.model)->required(), "GGUF model file")
      ("prompt,p", po::value<std::string>(), "text to continue")
      ("chat", po::bool_switch(&opt.chat), "interactive chat using the model's chat template")
      ("system", po::value<std::string>(&opt.system), "system message for --chat")
      ("n-predict,n", po::value<int>(&opt.n_predict)->default_value(256), "tokens to generate at most (per turn)")
      ("temp", po::value<float>(&temp)->default_value(0.8f, "0.8"), "temperature (0: greedy)")
      ("top-k", po::value<int>(&opt.sampling.top_k)->default_value(40), "top-k (0: off)")
      ("top-p", po::value<float>(&opt.sampling.top_p)->default_value(0.95f, "0.95"), "top-p (1: off)")
      ("min-p", po::value<float>(&opt.sampling.min_p)->default_value(0.05f, "0.05"), "min-p (0: off)")
      ("repeat-penalty", po::value<float>(&opt.sampling.repeat_penalty)->default_value(1.0f, "1"),
       "repetition penalty (1: off)")
      ("seed", po::value<uint64_t>(), "random seed (default: random)")
      ("device", po::value<std::string>(&opt.device)->default_value("cpu"),
       "compute device: cpu, cuda, cuda:N or auto")
      ("threads,t", po::value<int>(&opt.threads)->default_value(0), "compute threads (0: all cores)")
      ("ctx,c", po::value<int>(&opt.ctx)->default_value(0), "context size (0: the model's)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << kUsage << "\n" << desc << "\n";
      return 0;
    }
    po::notify(vm);
    if (vm.count("prompt") && opt.chat) throw po::error("--prompt and --chat exclude each other");
    if (opt.n_predict < 1) throw po::error("--n-predict must be at least 1");
    if (opt.threads < 0 || opt.ctx < 0) throw po::error("--threads and --ctx must be >= 0");
  } catch (const po::error& e) {
    std::cerr << "scn run: " << e.what() << "\n\n" << kUsage << "\n" << desc << "\n";
    return 2;
  }
  if (vm.count("prompt")) opt.prompt = vm["prompt"].as<std::string>();
  if (vm.count("seed")) opt.sampling.seed = vm["seed"].as<uint64_t>();
  opt.sampling.temperature = temp;

  EngineOptions eo;
  eo.device = opt.device;
  eo.n_threads = opt.threads;
  eo.n_ctx = opt.ctx;
  auto engine = Engine::load(opt.model, eo);
  if (!engine.is_ok()) {
    std::fprintf(stderr, "scn run: %s\n", engine.status().to_string().c_str());
    return 1;
  }
  install_sigint();
  return opt.chat ? run_chat(*engine.value(), opt) : run_once(*engine.value(), opt);
}

}  // namespace scn::inference
