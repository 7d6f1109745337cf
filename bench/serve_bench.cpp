#include "bench/serve_bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "common/http/client.h"
#include "common/process/subprocess.h"

namespace scn::bench {
namespace json = boost::json;
namespace {

using Clock = std::chrono::steady_clock;

// Ordinary English, tokenized by the server to get a pool of everyday ids.
constexpr const char* kPoolText =
    "Once upon a time there was a little girl who lived in a small house near the forest. "
    "Every morning she walked to the river with her dog and her brother to look at the fish, "
    "the birds and the big green trees. One day the sun was warm and the sky was blue, so they "
    "played a game, ate bread with honey, and told stories about a friendly dragon, a brave "
    "king, a happy cat and a lost ball that rolled down the hill into the water.";

int pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string request_body(const std::vector<int32_t>& prompt, int max_tokens, double temperature) {
  json::array ids;
  for (int32_t id : prompt) ids.emplace_back(id);
  json::object o{{"prompt", std::move(ids)},
                 {"max_tokens", max_tokens},
                 {"temperature", temperature},
                 {"ignore_eos", true},
                 {"stream", true},
                 {"stream_options", json::object{{"include_usage", true}}}};
  return json::serialize(o);
}

// One streamed completion on `client`.
RequestSample run_one(http::Client& client, const std::vector<int32_t>& prompt, int max_tokens,
                      double temperature) {
  RequestSample s;
  http::SseDecoder decoder;
  int text_chunks = 0;
  bool done = false, error = false;
  std::string body_text;  // a non-stream (error) answer
  const Clock::time_point t0 = Clock::now();
  auto on_data = [&](std::string_view bytes) {
    if (body_text.size() < 4096) body_text.append(bytes.substr(0, 4096));
    decoder.feed(bytes, [&](std::string_view data) {
      StreamEvent ev = read_stream_event(data);
      const double t = std::chrono::duration<double>(Clock::now() - t0).count();
      if (ev.done) done = true;
      if (ev.error) {
        error = true;
        if (s.error.empty()) s.error = ev.error_message;
      }
      if (!ev.text.empty()) {
        if (text_chunks == 0) s.ttft = t;
        s.last_token = t;
        ++text_chunks;
      }
      if (ev.has_usage) {
        s.has_usage = true;
        s.prompt_tokens = ev.prompt_tokens;
        s.completion_tokens = ev.completion_tokens;
        s.cached_tokens = ev.cached_tokens;
        s.has_cached = ev.has_cached;
      }
    });
    return true;
  };
  auto r = client.request_stream("POST", "/v1/completions", request_body(prompt, max_tokens, temperature),
                                 {{"Content-Type", "application/json"}}, on_data);
  if (!r.is_ok()) {
    s.error = r.status().to_string();
    client.close();
    return s;
  }
  s.http_status = r->status;
  if (!s.has_usage) s.completion_tokens = text_chunks;
  s.ok = s.http_status == 200 && done && !error;
  if (!s.ok && s.error.empty())
    s.error = "HTTP " + std::to_string(s.http_status) + ": " + body_text.substr(0, 300);
  return s;
}

Result<std::vector<int32_t>> token_pool(const std::string& url) {
  json::object req{{"content", kPoolText}, {"add_special", false}};
  auto r = http::request("POST", url + "/tokenize", json::serialize(req),
                         {{"Content-Type", "application/json"}});
  if (!r.is_ok()) return r.status();
  if (r->status != 200)
    return Status::unavailable("POST /tokenize answered " + std::to_string(r->status) + ": " + r->body);
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  const json::value* t = !ec && v.is_object() ? v.as_object().if_contains("tokens") : nullptr;
  if (!t || !t->is_array()) return Status::corrupt("POST /tokenize: no tokens array in " + r->body);
  std::vector<int32_t> pool;
  for (const json::value& x : t->as_array())
    if (x.is_int64()) pool.push_back(static_cast<int32_t>(x.as_int64()));
  std::sort(pool.begin(), pool.end());
  pool.erase(std::unique(pool.begin(), pool.end()), pool.end());
  if (pool.empty()) return Status::corrupt("POST /tokenize returned no tokens");
  return pool;
}

bool wait_healthy(const std::string& url, process::Subprocess* proc, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (proc && !proc->running()) return false;
    auto r = http::request("GET", url + "/health", {}, {}, std::chrono::milliseconds(2000));
    if (r.is_ok() && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

Status check(const ServeBenchOptions& o) {
  if (o.model_path.empty() == o.url.empty())
    return Status::invalid_argument("give exactly one of --model and --url");
  if (o.clients < 1 || o.prompt_tokens < 1 || o.max_tokens < 1 || o.requests < 0 || o.threads < 0 ||
      o.max_queue < 0 || o.timeout_seconds < 1)
    return Status::invalid_argument("--clients, --prompt-tokens, --max-tokens must be >= 1; "
                                    "--requests, --threads, --max-queue >= 0");
  if (!(o.temperature >= 0 && o.temperature <= 2))
    return Status::invalid_argument("--temperature must be in [0, 2]");
  if (o.shared_prefix < 0 || o.shared_prefix >= o.prompt_tokens)
    return Status::invalid_argument("--shared-prefix must be >= 0 and < --prompt-tokens");
  return Status::ok();
}

}  // namespace

uint64_t peak_rss_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream ss(line.substr(6));
      uint64_t kb = 0;
      ss >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

Result<ServeBenchReport> run_serve_bench(const ServeBenchOptions& options) {
  if (Status st = check(options); !st.is_ok()) return st;
  ServeBenchReport report;
  report.options = options;
  const int total = options.requests > 0 ? options.requests : options.clients;

  std::unique_ptr<process::Subprocess> server;
  std::filesystem::path log_path;
  if (!options.model_path.empty()) {
    const int port = pick_free_port();
    if (port == 0) return Status::io_error("no free TCP port");
    report.url = "http://127.0.0.1:" + std::to_string(port);
    const int queue = options.max_queue > 0 ? options.max_queue : std::max(64, 2 * options.clients);
    process::SpawnOptions so;
    so.argv = {options.scn_binary.empty() ? process::self_executable() : options.scn_binary, "infer", "--model", options.model_path, "--port",
               std::to_string(port), "--max-queue", std::to_string(queue)};
    if (options.threads > 0) {
      so.argv.push_back("--threads");
      so.argv.push_back(std::to_string(options.threads));
    }
    if (!options.device.empty()) {
      so.argv.push_back("--device");
      so.argv.push_back(options.device);
    }
    // Every client's request runs at once (the server's default admits 32).
    const bool has_parallel = std::any_of(options.server_args.begin(), options.server_args.end(),
                                          [](const std::string& a) {
                                            return a.rfind("--parallel", 0) == 0;
                                          });
    if (options.clients > 32 && !has_parallel) {
      so.argv.push_back("--parallel");
      so.argv.push_back(std::to_string(options.clients));
    }
    so.argv.insert(so.argv.end(), options.server_args.begin(), options.server_args.end());
    log_path = std::filesystem::temp_directory_path() /
               ("scn-bench-serve-" + std::to_string(::getpid()) + "-" + std::to_string(port) + ".log");
    so.log_path = log_path.string();
    for (size_t i = 1; i < so.argv.size(); ++i) report.server_command += (i > 1 ? " " : "scn ") + so.argv[i];
    auto p = process::Subprocess::spawn(so);
    if (!p.is_ok()) return p.status();
    server = std::move(p.value());
    if (!wait_healthy(report.url, server.get(), std::chrono::seconds(120))) {
      std::ifstream in(log_path);
      std::stringstream ss;
      ss << in.rdbuf();
      server->terminate();
      std::filesystem::remove(log_path);
      return Status::unavailable("the started server did not become healthy: " + ss.str().substr(0, 2000));
    }
  } else {
    report.url = options.url;
    while (!report.url.empty() && report.url.back() == '/') report.url.pop_back();
  }
  auto stop_server = [&] {
    if (!server) return;
    report.peak_rss_bytes = peak_rss_of(server->pid());
    server->terminate();
    std::filesystem::remove(log_path);
    server.reset();
  };

  auto pool = token_pool(report.url);
  if (!pool.is_ok()) {
    stop_server();
    return pool.status();
  }
  // Prompt 0 is the warm-up's; 1..total are measured.
  auto prompts = build_prompts(*pool, total + 1, options.prompt_tokens, options.shared_prefix, options.seed);
  if (options.shared_prefix == 0) {
    // The warm-up shares nothing: draw it from another seed.
    prompts[0] = build_prompts(*pool, 1, options.prompt_tokens, 0, options.seed ^ 0x9e3779b97f4a7c15ull)[0];
  }
  const std::chrono::milliseconds timeout(1000LL * options.timeout_seconds);
  {
    http::Client warm(report.url, timeout);
    RequestSample w = run_one(warm, prompts[0], 4, options.temperature);
    if (w.http_status == 0) {
      stop_server();
      return Status::unavailable("warm-up request failed: " + w.error);
    }
  }

  std::vector<RequestSample> samples(static_cast<size_t>(total));
  std::atomic<int> next{0};
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < options.clients; ++c) {
    clients.emplace_back([&] {
      http::Client client(report.url, timeout);
      for (int i; (i = next.fetch_add(1)) < total;)
        samples[static_cast<size_t>(i)] = run_one(client, prompts[static_cast<size_t>(i) + 1], options.max_tokens,
                    options.temperature);
    });
  }
  for (auto& t : clients) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  stop_server();
  report.stats = summarize(samples, wall);
  return report;
}

std::string format_serve_report(const ServeBenchReport& r) {
  const ServeBenchOptions& o = r.options;
  const ServeStats& s = r.stats;
  char buf[512];
  std::string out;
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    out += buf;
  };
  line("server       %s%s%s\n", r.url.c_str(), r.server_command.empty() ? "" : " (started: ",
       r.server_command.empty() ? "" : (r.server_command + ")").c_str());
  line("load         %d clients, %d requests, prompt %d tokens (shared prefix %d), max_tokens %d, "
       "temperature %g, streaming\n",
       o.clients, s.requests, o.prompt_tokens, o.shared_prefix, o.max_tokens, o.temperature);
  line("requests     %d ok, %d failed, %d rejected (429)\n", s.ok, s.failed, s.rejected);
  if (!s.first_error.empty()) line("first error  %s\n", s.first_error.substr(0, 300).c_str());
  line("throughput   %.1f generated tok/s (%lld tokens in %.2f s)\n", s.tok_s,
       static_cast<long long>(s.generated_tokens), s.wall_seconds);
  line("ttft         p50 %.1f ms   p99 %.1f ms\n", s.ttft_p50 * 1e3, s.ttft_p99 * 1e3);
  line("tpot         p50 %.1f ms   p99 %.1f ms\n", s.tpot_p50 * 1e3, s.tpot_p99 * 1e3);
  if (s.prefix_hit_rate >= 0)
    line("prefix hits  %.1f %% of prompt tokens cached (%lld of %lld)\n", s.prefix_hit_rate * 100,
         static_cast<long long>(s.cached_tokens), static_cast<long long>(s.prompt_tokens));
  else
    line("prefix hits  n/a (the server does not report cached_tokens)\n");
  if (r.peak_rss_bytes > 0)
    line("server rss   peak %.1f MiB (VmHWM)\n", static_cast<double>(r.peak_rss_bytes) / (1 << 20));
  return out;
}

std::string serve_report_json(const ServeBenchReport& r) {
  const ServeStats& s = r.stats;
  json::object o{{"url", r.url},
                 {"server_command", r.server_command},
                 {"clients", r.options.clients},
                 {"prompt_tokens", r.options.prompt_tokens},
                 {"shared_prefix", r.options.shared_prefix},
                 {"max_tokens", r.options.max_tokens},
                 {"temperature", r.options.temperature},
                 {"device", r.options.device},
                 {"requests", s.requests},
                 {"ok", s.ok},
                 {"failed", s.failed},
                 {"rejected", s.rejected},
                 {"generated_tokens", s.generated_tokens},
                 {"wall_seconds", s.wall_seconds},
                 {"tok_s", s.tok_s},
                 {"ttft_p50_s", s.ttft_p50},
                 {"ttft_p99_s", s.ttft_p99},
                 {"tpot_p50_s", s.tpot_p50},
                 {"tpot_p99_s", s.tpot_p99},
                 {"prefix_hit_rate", s.prefix_hit_rate},
                 {"cached_tokens", s.cached_tokens},
                 {"prompt_tokens_total", s.prompt_tokens},
                 {"peak_rss_bytes", r.peak_rss_bytes}};
  if (!s.first_error.empty()) o["first_error"] = s.first_error;
  return json::serialize(o);
}

}  // namespace scn::bench
