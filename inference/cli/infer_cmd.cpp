// scn infer --model F --port P: one GGUF model served over the
// OpenAI-compatible HTTP API (inference/server/inference_service.h).
//
// Exit codes: 0 after a clean stop (SIGINT/SIGTERM), 1 when the model cannot
// be loaded or the address cannot be bound, 2 for usage errors.
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/config.h"
#include "common/crypto/worker_secret.h"
#include "common/http/server.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/tls/server_flags.h"
#include "inference/cli/byte_size.h"
#include "inference/cli/commands.h"
#include "inference/engine/engine.h"
#include "inference/server/inference_service.h"

namespace scn::inference {

int infer_main(int argc, char** argv) {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 0;
  int ctx = 0;
  int max_queue = 64;
  int http_threads = 0;
  std::int64_t max_body_bytes = 8 << 20;
  std::string alias;
  EngineOptions defaults;
  int parallel = defaults.max_running;
  int max_batch_tokens = defaults.max_batch_tokens;
  std::string kv_memory;
  int ctx_total = defaults.ctx_total;
  bool no_prefix_cache = false;
  std::string device = defaults.device;
  std::string port_file;

  common::OptionSet opts("scn infer", "serve one GGUF model over an OpenAI-compatible HTTP API");
  opts.add("model,m", &model_path, "GGUF model file")
      .add("port,p", &port, "TCP port to listen on (0: any free port)")
      .add("host", &host, "address to bind")
      .add("device", &device, "compute device: cpu, cuda, cuda:N or auto (a GPU when usable)")
      .add("threads,t", &threads, "compute threads (0: all cores)")
      .add("ctx,c", &ctx, "context length in tokens (0: the model's, at most 8192)")
      .add("max-queue", &max_queue, "generation requests that may wait; beyond that 429")
      .add("parallel", &parallel, "sequences generated at once in one batch (max running)")
      .add("max-batch-tokens", &max_batch_tokens,
           "tokens (decode steps + prefill chunks) per forward pass")
      .add("kv-memory", &kv_memory,
           "KV cache pool size in bytes, suffixes K/M/G (512M, 2G); default: from --ctx-total")
      .add("ctx-total", &ctx_total,
           "KV positions of all sequences together (0: context x min(parallel, 8))")
      .flag("no-prefix-cache", &no_prefix_cache, "do not reuse the KV blocks of common prompt prefixes")
      .add("http-threads", &http_threads, "HTTP handler threads (0: max-queue + parallel + 8)")
      .add("max-body-bytes", &max_body_bytes, "largest accepted request body; larger is 413")
      .add("alias", &alias, "model id served by /v1/models (default: the model's name)")
      .add("port-file", &port_file,
           "once listening, write the bound port to this file (atomically; for --port 0)")
      .require("model")
      .log_level_option();
  tls::ServerTlsConfig tls_config;  // issue 9: workers serve TLS for the broker
  tls::add_server_tls_options(opts, &tls_config);
  auto parsed = opts.parse(argc, argv);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "scn infer: %s\n\n%s", parsed.status().message().c_str(), opts.help().c_str());
    return 2;
  }
  if (parsed.value() == common::OptionSet::Outcome::kHelp) return 0;
  if (Status st = tls::check_server_tls_options(tls_config); !st.is_ok()) {
    std::fprintf(stderr, "scn infer: %s\n", st.message().c_str());
    return 2;
  }
  if (port < 0 || port > 65535 || threads < 0 || ctx < 0 || max_queue < 0 || http_threads < 0 ||
      max_body_bytes <= 0 || parallel < 1 || max_batch_tokens < 1 || ctx_total < 0) {
    std::fprintf(stderr, "scn infer: --port must be 0..65535, --threads, --ctx, --max-queue, "
                         "--http-threads, --ctx-total >= 0, --max-body-bytes, --parallel, "
                         "--max-batch-tokens > 0\n");
    return 2;
  }
  int64_t kv_memory_bytes = 0;
  if (!kv_memory.empty()) {
    auto b = parse_byte_size(kv_memory);
    if (!b.is_ok()) {
      std::fprintf(stderr, "scn infer: --kv-memory: %s\n", b.status().message().c_str());
      return 2;
    }
    kv_memory_bytes = *b;
  }

  EngineOptions eo;
  eo.device = device;
  eo.n_threads = threads;
  eo.n_ctx = ctx;
  eo.max_queue = max_queue;
  eo.max_running = parallel;
  eo.max_batch_tokens = max_batch_tokens;
  eo.kv_memory_bytes = kv_memory_bytes;
  eo.ctx_total = ctx_total;
  eo.prefix_cache = !no_prefix_cache;
  auto engine = Engine::load(model_path, eo);
  if (!engine.is_ok()) {
    std::fprintf(stderr, "scn infer: cannot load model %s: %s\n", model_path.c_str(),
                 engine.status().to_string().c_str());
    return 1;
  }

  http::ServerOptions so;
  so.host = host;
  so.port = port;
  // Handlers block while their request waits or runs; n > 1 adds threads of
  // its own, so handlers are sized by the requests that may be admitted.
  so.worker_threads = http_threads > 0 ? http_threads : max_queue + parallel + 8;
  so.max_body_bytes = static_cast<std::size_t>(max_body_bytes);
  so.server_name = "scn-infer";
  so.tls = tls_config;
  http::Server server(so);
  InferenceService service(*engine.value(), alias, metrics::default_registry(), max_queue);
  // Worker authentication (docs/API.md): the agent passes the replica's
  // secret in the environment, never on the command line.
  if (const char* ws = std::getenv(crypto::kWorkerSecretEnv); ws != nullptr && *ws != '\0') {
    service.set_worker_secret(ws);
    ::unsetenv(crypto::kWorkerSecretEnv);
  }
  service.add_routes(server);
  if (Status st = server.start(); !st.is_ok()) {
    std::fprintf(stderr, "scn infer: cannot listen on %s:%d: %s\n", host.c_str(), port,
                 st.to_string().c_str());
    return 1;
  }
  if (!port_file.empty()) {
    // Written to a temporary name and renamed, so a reader never sees half a number.
    const std::string tmp = port_file + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    bool ok = f && std::fprintf(f, "%d\n", server.port()) > 0;
    if (f) ok = std::fclose(f) == 0 && ok;
    if (!ok || std::rename(tmp.c_str(), port_file.c_str()) != 0) {
      std::fprintf(stderr, "scn infer: cannot write --port-file %s\n", port_file.c_str());
      server.stop();
      return 1;
    }
  }
  server.stop_on_signals([](int signo) {
    common::log_info("scn infer: signal ", signo, ", stopping");
  });
  common::log_info("scn infer: serving '", service.model_id(), "' (context ", engine.value()->n_ctx(),
                   " tokens) on http://", host, ":", server.port(), " with ",
                   engine.value()->device_description());
  server.wait();
  common::log_info("scn infer: stopped");
  return 0;
}

}  // namespace scn::inference
