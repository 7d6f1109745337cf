// `scn infer` with a worker secret (docs/API.md, "Worker authentication"):
// a real child process given SCN_WORKER_SECRET in its environment answers
// 401 to every request without the secret except GET /health.
#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/http/client.h"
#include "inference/server/infer_process_test_util.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {
namespace json = boost::json;
using testutil::InferProcess;
using namespace std::chrono_literals;

TEST_CASE("scn infer with SCN_WORKER_SECRET: 401 without the secret, 200 with it, /health open") {
  const std::string secret = "4f1c0ffee2b9d1e0a7c35b8e6d2f4a1901234567890abcdef0123456789abcd";
  InferProcess p(scn::testing::shared_path("models/stories260K.gguf"),
                 {"--ctx", "64", "--alias", "stories", "--threads", "1"},
                 {"SCN_WORKER_SECRET=" + secret});
  REQUIRE(p.spawned());
  INFO("stderr: ", p.stderr_text());
  REQUIRE(p.wait_ready());  // GET /health without a secret

  const std::string completion = R"({"prompt": "Once", "max_tokens": 2})";
  struct Case {
    const char* method;
    const char* path;
    std::string body;
    std::string authorization;  // "" = none
    int status;
  };
  const std::vector<Case> cases = {
      {"GET", "/health", "", "", 200},
      {"GET", "/v1/models", "", "", 401},
      {"GET", "/metrics", "", "", 401},
      {"POST", "/v1/completions", completion, "", 401},
      {"POST", "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}]})", "", 401},
      {"POST", "/tokenize", R"({"content": "hi"})", "", 401},
      {"POST", "/detokenize", R"({"tokens": [1]})", "", 401},
      {"POST", "/v1/completions", completion, "Bearer wrong", 401},
      {"POST", "/v1/completions", completion, "Bearer " + secret.substr(0, secret.size() - 1), 401},
      {"POST", "/v1/completions", completion, "Bearer " + secret + "0", 401},
      {"POST", "/v1/completions", completion, "Basic " + secret, 401},
      {"POST", "/v1/completions", completion, "Bearer " + secret, 200},
      {"GET", "/v1/models", "", "bearer " + secret, 200},
      {"GET", "/metrics", "", "Bearer " + secret, 200},
      {"GET", "/health", "", "Bearer wrong", 200},
  };
  for (const auto& c : cases) {
    CAPTURE(c.method);
    CAPTURE(c.path);
    CAPTURE(c.authorization);
    http::Headers h{{"Content-Type", "application/json"}};
    if (!c.authorization.empty()) h.set("Authorization", c.authorization);
    auto r = http::request(c.method, p.url(c.path), c.body, h, 30s);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->status == c.status);
    if (c.status == 401) {
      boost::system::error_code ec;
      json::value v = json::parse(r->body, ec);
      REQUIRE_FALSE(ec);
      CHECK(v.at("error").at("code").as_string() == "invalid_worker_secret");
      CHECK(v.at("error").at("type").as_string() == "authentication_error");
    }
  }
  // The secret is neither logged nor on the command line.
  CHECK(p.stderr_text().find(secret) == std::string::npos);
  CHECK(p.stdout_text().find(secret) == std::string::npos);
}

}  // namespace
}  // namespace scn::inference
