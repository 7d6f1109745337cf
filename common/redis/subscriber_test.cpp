#include <doctest/doctest.h>
#include <signal.h>

#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "common/redis/redis.h"
#include "common/redis/test_redis.h"
#include "tests/testing.h"

namespace scn::redis {
namespace {

using namespace std::chrono_literals;
using testing::redis_url_for_tests;
using testing::unique_key_prefix;

// What a subscriber received, waited on by the test thread.
class Inbox {
 public:
  void add(const PubSubMessage& m) {
    std::lock_guard lock(mu_);
    messages_.push_back(m);
    cv_.notify_all();
  }
  void subscribed() {
    std::lock_guard lock(mu_);
    ++subscribed_;
    cv_.notify_all();
  }
  bool wait_messages(size_t n, std::chrono::milliseconds d = 5000ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] { return messages_.size() >= n; });
  }
  bool wait_subscribed(int n, std::chrono::milliseconds d = 5000ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] { return subscribed_ >= n; });
  }
  std::vector<PubSubMessage> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PubSubMessage> messages_;
  int subscribed_ = 0;
};

// Runs a subscriber on its own thread; stops and joins on destruction.
struct Running {
  RedisSubscriber sub;
  Inbox inbox;
  Status result = Status::internal("still running");
  std::thread thread;

  Running(RedisOptions options, std::vector<std::string> channels, std::vector<std::string> patterns)
      : sub(std::move(options)) {
    thread = std::thread([this, channels, patterns] {
      result = sub.run(
          channels, patterns, [this](const PubSubMessage& m) { inbox.add(m); },
          [this] { inbox.subscribed(); });
    });
  }
  ~Running() {
    sub.stop();
    if (thread.joinable()) thread.join();
  }
};

TEST_CASE("publish reaches channel and pattern subscribers; stop() ends run()") {
  auto url = redis_url_for_tests();
  if (!url) return;
  auto options = parse_redis_url(*url);
  REQUIRE(options.is_ok());
  auto pub = RedisClient::connect(*options);
  REQUIRE(pub.is_ok());
  const std::string p = unique_key_prefix();

  auto running = std::make_unique<Running>(*options, std::vector<std::string>{p + "routes"},
                                           std::vector<std::string>{p + "node.*"});
  REQUIRE(running->inbox.wait_subscribed(1));
  CHECK(*(*pub)->publish(p + "routes", "svc-1 changed") == 1);
  CHECK(*(*pub)->publish(p + "node.7", std::string("bin\0ary", 7)) == 1);
  CHECK(*(*pub)->publish(p + "elsewhere", "x") == 0);
  REQUIRE(running->inbox.wait_messages(2));
  auto got = running->inbox.messages();
  CHECK(got[0].channel == p + "routes");
  CHECK(got[0].pattern.empty());
  CHECK(got[0].payload == "svc-1 changed");
  CHECK(got[1].channel == p + "node.7");
  CHECK(got[1].pattern == p + "node.*");
  CHECK(got[1].payload == std::string("bin\0ary", 7));

  auto start = std::chrono::steady_clock::now();
  running->sub.stop();
  running->thread.join();
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  CHECK(running->result.is_ok());
  CHECK(*(*pub)->publish(p + "routes", "after stop") == 0);
}

TEST_CASE("run() checks its arguments and honours an early stop()") {
  RedisSubscriber sub(RedisOptions{});
  auto noop = [](const PubSubMessage&) {};
  CHECK(sub.run({}, {}, noop).code() == Code::kInvalidArgument);
  CHECK(sub.run({"c"}, {}, nullptr).code() == Code::kInvalidArgument);
  sub.stop();
  CHECK(sub.run({"c"}, {}, noop).is_ok());  // returns at once
}

TEST_CASE("a subscriber refused by the server returns the error") {
  auto url = redis_url_for_tests();
  if (!url) return;
  auto options = parse_redis_url(*url);
  REQUIRE(options.is_ok());
  options->password = "wrong";
  RedisSubscriber sub(*options);
  Status st = sub.run({"c"}, {}, [](const PubSubMessage&) {});
  CHECK(st.code() == Code::kUnauthenticated);
}

TEST_CASE("a subscriber whose connection is killed resubscribes") {
  auto url = redis_url_for_tests();
  if (!url) return;
  auto options = parse_redis_url(*url);
  REQUIRE(options.is_ok());
  const std::string p = unique_key_prefix();
  RedisOptions sub_options = *options;
  sub_options.client_name = "sub" + std::to_string(::getpid()) + "x" + std::to_string(std::rand());
  auto admin = RedisClient::connect(*options);
  REQUIRE(admin.is_ok());

  Running running(sub_options, {p + "c"}, {});
  REQUIRE(running.inbox.wait_subscribed(1));
  // Kill only ours (other tests share the server): find it by name.
  auto list = (*admin)->command({"CLIENT", "LIST", "TYPE", "pubsub"});
  REQUIRE(list.is_ok());
  std::istringstream lines(list->str);
  std::string line;
  std::string id;
  while (std::getline(lines, line)) {
    if (line.find(" name=" + sub_options.client_name + " ") != std::string::npos) {
      id = line.substr(3, line.find(' ') - 3);  // "id=123 addr=..."
    }
  }
  REQUIRE_MESSAGE(!id.empty(), list->str);
  REQUIRE((*admin)->command({"CLIENT", "KILL", "ID", id}).is_ok());
  REQUIRE(running.inbox.wait_subscribed(2));
  CHECK(*(*admin)->publish(p + "c", "again") == 1);
  REQUIRE(running.inbox.wait_messages(1));
  CHECK(running.inbox.messages()[0].payload == "again");
}

// A private redis-server, to be crashed and restarted on the same port.
class PrivateRedis {
 public:
  explicit PrivateRedis(int port) : port_(port) {}
  ~PrivateRedis() { kill_now(); }
  bool start() {
    std::string cmd = "redis-server --bind 127.0.0.1 --port " + std::to_string(port_) +
                      " --save '' --appendonly no --daemonize yes --dir " + dir_.path().string() +
                      " --pidfile " + dir_.file("redis.pid") + " --logfile " + dir_.file("redis.log");
    if (std::system(cmd.c_str()) != 0) return false;
    for (int i = 0; i < 100; ++i) {
      std::ifstream f(dir_.file("redis.pid"));
      if (f >> pid_ && pid_ > 0) {
        auto c = RedisClient::connect(url());
        if (c.is_ok() && (*c)->ping().is_ok()) return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    for (int i = 0; i < 200 && ::kill(pid_, 0) == 0; ++i) std::this_thread::sleep_for(10ms);
    std::remove(dir_.file("redis.pid").c_str());
    pid_ = -1;
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }

 private:
  int port_;
  int pid_ = -1;
  scn::testing::TempDir dir_;
};

TEST_CASE("client and subscriber survive a Redis crash and restart") {
  if (!redis_url_for_tests()) return;  // the same prerequisites as the other tests
  PrivateRedis server(scn::testing::free_port());
  REQUIRE(server.start());
  auto client = RedisClient::connect(server.url());
  REQUIRE(client.is_ok());
  CHECK(*(*client)->set("k", "before"));
  auto options = parse_redis_url(server.url());
  REQUIRE(options.is_ok());
  Running running(*options, {"ch"}, {});
  REQUIRE(running.inbox.wait_subscribed(1));

  server.kill_now();
  CHECK((*client)->ping().code() == Code::kUnavailable);  // down: fails fast, no crash
  REQUIRE(server.start());
  CHECK((*client)->ping().is_ok());
  CHECK(!(*client)->get("k")->has_value());  // no persistence: a fresh server
  REQUIRE(running.inbox.wait_subscribed(2));
  CHECK(*(*client)->publish("ch", "back") == 1);
  REQUIRE(running.inbox.wait_messages(1));
  CHECK(running.inbox.messages()[0].payload == "back");
}

}  // namespace
}  // namespace scn::redis
