#include "common/config.h"

#include <cstdlib>
#include <doctest/doctest.h>

#include "common/log.h"

namespace scn::common {
namespace {

struct Env {
  Env(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~Env() { ::unsetenv(name_); }
  const char* name_;
};

struct Opts {
  std::string model;
  int port = 8080;
  double temp = 0.8;
  std::int64_t ctx = 4096;
  bool verbose = false;
  std::vector<std::string> stop;
  std::string file;
};

void declare(OptionSet& set, Opts& o) {
  set.add("model,m", &o.model, "GGUF file")
      .add("port", &o.port, "TCP port")
      .add("temperature", &o.temp, "sampling temperature")
      .add("n-ctx", &o.ctx, "context length")
      .flag("verbose", &o.verbose, "talk more")
      .add("stop", &o.stop, "stop string")
      .require("model")
      .positional("file", &o.file, "an input file", false);
}

Result<OptionSet::Outcome> parse(OptionSet& set, std::vector<const char*> args) {
  args.insert(args.begin(), "test");
  return set.parse(static_cast<int>(args.size()), args.data());
}

TEST_CASE("command line, environment and defaults, in that order") {
  OptionSet set("scn test", "a test command");
  Opts o;
  declare(set, o);
  Env e1("SCN_PORT", "9000");
  Env e2("SCN_N_CTX", "2048");
  Env e3("SCN_MODEL", "from-env.gguf");
  Env e4("SCN_VERBOSE", "yes");
  Env e5("SCN_UNRELATED_THING", "ignored");
  auto r = parse(set, {"-m", "cli.gguf", "--temperature=0.5", "--stop", "a", "--stop", "b", "in.txt"});
  REQUIRE(r.is_ok());
  CHECK(r.value() == OptionSet::Outcome::kRun);
  CHECK(o.model == "cli.gguf");   // command line beats SCN_MODEL
  CHECK(o.port == 9000);          // environment
  CHECK(o.ctx == 2048);
  CHECK(o.temp == 0.5);
  CHECK(o.verbose);
  CHECK(o.stop == std::vector<std::string>{"a", "b"});
  CHECK(o.file == "in.txt");
  CHECK(set.given("port"));
  CHECK(set.given("model"));
  CHECK_FALSE(set.given("nonexistent"));
}

TEST_CASE("defaults stay when nothing is given; flags accept =false") {
  OptionSet set("scn test", "a test command");
  Opts o;
  declare(set, o);
  auto r = parse(set, {"--model", "x", "--verbose=false"});
  REQUIRE(r.is_ok());
  CHECK(o.port == 8080);
  CHECK(o.temp == 0.8);
  CHECK_FALSE(o.verbose);
  CHECK(o.file.empty());
  CHECK_FALSE(set.given("port"));

  OptionSet set2("scn test", "a test command");
  Opts o2;
  declare(set2, o2);
  REQUIRE(parse(set2, {"--model", "x", "--verbose"}).is_ok());
  CHECK(o2.verbose);
}

TEST_CASE("errors name the option") {
  struct Case {
    std::vector<const char*> args;
    std::string expect;
  };
  const Case cases[] = {
      {{}, "'--model' is required (or set SCN_MODEL)"},
      {{"--model", "x", "--bogus"}, "bogus"},
      {{"--model", "x", "--port", "abc"}, "port"},
      {{"--model", "x", "a", "b"}, "scn test: "},
  };
  for (const auto& c : cases) {
    OptionSet set("scn test", "a test command");
    Opts o;
    declare(set, o);
    auto r = parse(set, c.args);
    REQUIRE_FALSE(r.is_ok());
    CAPTURE(r.status().message());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find(c.expect) != std::string::npos);
  }
  OptionSet set("scn test", "a test command");
  Opts o;
  declare(set, o);
  Env bad("SCN_PORT", "not-a-number");
  CHECK_FALSE(parse(set, {"--model", "x"}).is_ok());
}

TEST_CASE("--help returns kHelp; the help text lists options and their variables") {
  OptionSet set("scn test", "a test command");
  Opts o;
  declare(set, o);
  auto r = parse(set, {"--help"});
  REQUIRE(r.is_ok());
  CHECK(r.value() == OptionSet::Outcome::kHelp);
  std::string h = set.help();
  CHECK(h.find("usage: scn test [options] [file]") != std::string::npos);
  CHECK(h.find("--n-ctx") != std::string::npos);
  CHECK(h.find("SCN_N_CTX") != std::string::npos);
  CHECK(h.find("a test command") != std::string::npos);
  CHECK(OptionSet::env_name("n-gpu-layers") == "SCN_N_GPU_LAYERS");
}

TEST_CASE("--log-level and SCN_LOG_LEVEL set the log level") {
  LogLevel saved = log_level();
  {
    OptionSet set("scn test", "t");
    set.log_level_option();
    Env e("SCN_LOG_LEVEL", "error");
    REQUIRE(parse(set, {}).is_ok());
    CHECK(log_level() == LogLevel::kError);
  }
  {
    OptionSet set("scn test", "t");
    set.log_level_option();
    Env e("SCN_LOG_LEVEL", "error");
    REQUIRE(parse(set, {"--log-level", "debug"}).is_ok());
    CHECK(log_level() == LogLevel::kDebug);
  }
  {
    OptionSet set("scn test", "t");
    set.log_level_option();
    auto r = parse(set, {"--log-level", "loud"});
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("unknown log level 'loud'") != std::string::npos);
  }
  set_log_level(saved);
}

}  // namespace
}  // namespace scn::common
