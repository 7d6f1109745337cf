// "Done when" 6: `scn up` as a newcomer runs it - its own PostgreSQL and
// Redis under --var, the demo pool, the printed curl command run as printed
// (sh -c) answers a completion; SIGINT stops everything (no process of the
// pool left, every port closed), exit status 0. TLS is on by default: the
// curl line trusts <var>/pki/ca.crt, and plain HTTP to the broker is refused.
#include <dirent.h>
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "broker/up/ports.h"
#include "broker/up/scn_process.h"
#include "broker/up/up_files.h"
#include "common/http/client.h"
#include "common/process/subprocess.h"
#include "tests/e2e/platform_harness.h"

namespace scn::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The printed curl command: the line that starts with "  curl ".
std::string curl_line(const std::string& log) {
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("  curl -s ", 0) == 0) return line;
  return "";
}

// Live processes whose command line mentions `needle` (zombies do not count).
std::vector<std::string> processes_mentioning(const std::string& needle) {
  std::vector<std::string> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string pid = e->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = read_all("/proc/" + pid + "/cmdline");
    for (char& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find(needle) == std::string::npos) continue;
    const std::string stat = read_all("/proc/" + pid + "/stat");
    const size_t p = stat.rfind(") ");
    if (p != std::string::npos && p + 2 < stat.size() && (stat[p + 2] == 'Z' || stat[p + 2] == 'X')) continue;
    out.push_back(pid + ": " + cmd);
  }
  ::closedir(d);
  return out;
}

bool have_servers() {
  if (fs::exists("/usr/lib/postgresql/15/bin/initdb") && fs::exists("/usr/bin/redis-server")) return true;
  if (scn::testing::in_ci()) FAIL("PostgreSQL 15 and Redis are needed (scripts/install-deps.sh)");
  MESSAGE("SKIPPED: PostgreSQL 15 or redis-server is not installed");
  return false;
}

// Runs the printed curl command exactly as printed (sh -c); answers its output.
std::string run_as_printed(const std::string& curl, const fs::path& out) {
  process::SpawnOptions o;
  o.argv = {"sh", "-c", curl};
  o.log_path = out.string();
  auto sh = process::Subprocess::spawn(o);
  REQUIRE(sh.is_ok());
  auto rc = (*sh)->wait_for(60s);
  const std::string answer = read_all(out);
  INFO("curl: ", curl, "\nanswer: ", answer);
  REQUIRE(rc.has_value());
  CHECK(*rc == 0);
  return answer;
}

void check_chat_answer(const std::string& answer) {
  INFO("answer: ", answer);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(answer, ec);
  REQUIRE_FALSE(ec);
  CHECK(v.at("object").as_string() == "chat.completion");
  CHECK_FALSE(v.at("choices").as_array().at(0).at("message").at("content").as_string().empty());
}

// Waits for `scn up` to print its curl line (or to exit); answers the line.
std::string wait_for_curl(ScnProcess& up) {
  std::string curl;
  eventually(240s, [&] {
    curl = curl_line(read_all(up.log_path()));
    return !curl.empty() || !up.running();
  });
  return curl;
}

TEST_CASE("e2e 6: scn up brings the demo pool up, its printed curl answers, SIGINT stops everything") {
  if (!have_servers()) return;
  scn::testing::TempDir tmp;
  const fs::path var = tmp.path() / "var";
  const int port = broker::pick_port();
  ScnProcess up("scn up", scn::testing::scn_binary(),
                {"up", "--var", var.string(), "--port", std::to_string(port), "--shared-dir",
                 scn::testing::shared_dir().string(), "--ready-timeout", "150"},
                tmp.path() / "up.log");
  // Its own PostgreSQL and Redis, whatever the environment says.
  up.set_env({{"SCN_PG_URL", ""}, {"SCN_REDIS_URL", ""}});
  REQUIRE(up.start().is_ok());
  INFO("scn up log:\n", up.log_tail(80));
  const std::string curl = wait_for_curl(up);
  REQUIRE_FALSE(curl.empty());
  const std::string log_so_far = read_all(up.log_path());
  CHECK(log_so_far.find("WARNING") == std::string::npos);  // the service became ready
  CHECK(log_so_far.find("launching service") != std::string::npos);
  CHECK(log_so_far.find("https://127.0.0.1:" + std::to_string(port)) != std::string::npos);
  CHECK(curl.find("--cacert " + (var / "pki" / "ca.crt").string() + " https://127.0.0.1:" +
                  std::to_string(port)) != std::string::npos);
  // TLS only: plain HTTP to the broker is answered 400 and closed.
  auto plain = http::request("GET", "http://127.0.0.1:" + std::to_string(port) + "/health");
  REQUIRE(plain.is_ok());
  CHECK(plain->status == 400);

  // The curl command, exactly as printed.
  check_chat_answer(run_as_printed(curl, tmp.path() / "curl.out"));

  // The secrets are kept for the next run, readable by the owner only.
  auto creds = broker::UpCredentials::load(var / "credentials.json");
  REQUIRE(creds.is_ok());
  CHECK(curl.find(creds->api_key) != std::string::npos);
  CHECK(fs::status(var / "credentials.json").permissions() ==
        (fs::perms::owner_read | fs::perms::owner_write));

  auto ports = broker::read_json_file(var / "up.json");
  REQUIRE(ports.is_ok());
  const int pg_port = static_cast<int>(ports->at("pg_port").as_int64());
  const int redis_port = static_cast<int>(ports->at("redis_port").as_int64());
  std::smatch m;
  int scheduler_port = 0;
  if (std::regex_search(log_so_far, m, std::regex("scheduler on 127\\.0\\.0\\.1:([0-9]+)")))
    scheduler_port = std::stoi(m[1]);
  CHECK(scheduler_port > 0);
  CHECK(broker::port_listening(pg_port));
  CHECK(broker::port_listening(redis_port));
  CHECK_FALSE(processes_mentioning(var.string()).empty());  // PostgreSQL and the agents

  up.signal(SIGINT);
  auto exit_status = up.wait(90s);
  REQUIRE(exit_status.has_value());
  CHECK(*exit_status == 0);
  for (int p : {port, pg_port, redis_port, scheduler_port}) {
    CAPTURE(p);
    CHECK_FALSE(broker::port_listening(p));
  }
  // Nothing of the pool is left: no agent, worker, or PostgreSQL process.
  std::vector<std::string> left;
  eventually(5s, [&] {
    left = processes_mentioning(var.string());
    return left.empty();
  });
  std::string listing;
  for (const auto& l : left) listing += l + "\n";
  INFO("left running:\n", listing);
  CHECK(left.empty());

  // Again on the same folder: same data, same passwords, the same API key,
  // the same service (not a second one), and the curl works again.
  ScnProcess again("scn up (again)", scn::testing::scn_binary(), up.args(), tmp.path() / "up-again.log");
  again.set_env({{"SCN_PG_URL", ""}, {"SCN_REDIS_URL", ""}});
  REQUIRE(again.start().is_ok());
  INFO("second scn up log:\n", again.log_tail(80));
  const std::string curl2 = wait_for_curl(again);
  REQUIRE_FALSE(curl2.empty());
  CHECK(curl2 == curl);
  const std::string log2 = read_all(again.log_path());
  CHECK(log2.find("launching service") == std::string::npos);
  CHECK(log2.find("initdb") == std::string::npos);
  CHECK(log2.find("WARNING") == std::string::npos);
  check_chat_answer(run_as_printed(curl2, tmp.path() / "curl2.out"));
  again.signal(SIGINT);
  auto again_status = again.wait(90s);
  REQUIRE(again_status.has_value());
  CHECK(*again_status == 0);
  CHECK_FALSE(broker::port_listening(port));
}

}  // namespace
}  // namespace scn::e2e
