#include "node-agent/model_cache.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/crypto/crypto.h"
#include "common/http/server.h"
#include "tests/testing.h"

namespace scn::node_agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string content(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return s;
}

ModelFile facts(const std::string& data, const std::string& uri, std::string id = "mf-1") {
  return ModelFile{std::move(id), "model.gguf", uri, crypto::to_hex(crypto::sha256(data)),
                   static_cast<std::int64_t>(data.size())};
}

// Serves one file at /store/model.gguf with Range support, recording the
// Range header of every request.
class FileServer {
 public:
  explicit FileServer(std::string data, bool honour_range = true)
      : data_(std::move(data)), honour_range_(honour_range) {
    server_.route("GET", "/store/model.gguf", [this](const http::Request& req, http::Response& res) {
      std::string range(req.header("Range"));
      {
        std::lock_guard lock(mu_);
        ranges_.push_back(range);
      }
      if (!range.empty() && honour_range_) {
        size_t start = std::stoul(range.substr(6));  // "bytes=N-"
        if (start >= data_.size()) {
          res.set_status(416);
          return;
        }
        res.set_header("Content-Range", "bytes " + std::to_string(start) + "-" +
                                            std::to_string(data_.size() - 1) + "/" +
                                            std::to_string(data_.size()));
        res.set_content(206, data_.substr(start), "application/octet-stream");
        return;
      }
      res.set_content(200, data_, "application/octet-stream");
    });
    REQUIRE(server_.start().is_ok());
  }
  std::string uri() const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + "/store/model.gguf";
  }
  std::vector<std::string> ranges() {
    std::lock_guard lock(mu_);
    return ranges_;
  }

 private:
  std::string data_;
  bool honour_range_;
  http::Server server_;
  std::mutex mu_;
  std::vector<std::string> ranges_;
};

TEST_CASE("sha256_file") {
  testing::TempDir dir;
  write_file(dir.file("a"), "abc");
  CHECK(sha256_file(dir.file("a")).value() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_file(dir.file("missing")).status().code() == Code::kIoError);
}

TEST_CASE("file:// copy, verified, then present") {
  testing::TempDir dir;
  std::string data = content(300'000);
  write_file(dir.file("src.gguf"), data);
  ModelCache cache(dir.file("cache"));
  ModelFile f = facts(data, "file://" + dir.file("src.gguf"));
  auto r = cache.fetch(f);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  CHECK(r.value() == dir.file("cache") + "/" + f.sha256 + "/model.gguf");
  CHECK(slurp(r.value()) == data);
  CHECK_FALSE(fs::exists(r.value() + ".part"));
  auto st = cache.state("mf-1");
  REQUIRE(st.has_value());
  CHECK(st->state == FileState::kPresent);
  CHECK(st->bytes_present == 300'000);
  CHECK(cache.ensure(f) == r.value());  // present and verified: no more work
}

TEST_CASE("file:// sha256 mismatch: failed, no file left") {
  testing::TempDir dir;
  std::string data = content(1000);
  write_file(dir.file("src.gguf"), data);
  ModelCache cache(dir.file("cache"));
  ModelFile f = facts(data, "file://" + dir.file("src.gguf"));
  f.sha256 = std::string(64, 'a');
  auto r = cache.fetch(f);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message() ==
        "sha256 mismatch: expected " + f.sha256 + ", got " + crypto::to_hex(crypto::sha256(data)));
  auto st = cache.state("mf-1");
  CHECK(st->state == FileState::kFailed);
  CHECK(st->reason.find("sha256 mismatch: expected aaaa") == 0);
  CHECK_FALSE(fs::exists(cache.local_path(f)));
  CHECK_FALSE(fs::exists(cache.local_path(f) + ".part"));

  f = facts(data, "file://" + dir.file("src.gguf"));
  f.size_bytes = 999;
  CHECK(cache.fetch(f).status().message() == "size mismatch: expected 999 bytes, got 1000");
  CHECK(cache.fetch(facts(data, "file://" + dir.file("nope"))).status().code() == Code::kNotFound);
  CHECK(cache.fetch(facts(data, "s3://bucket/x")).status().code() == Code::kInvalidArgument);
  ModelFile evil = facts(data, "file://" + dir.file("src.gguf"));
  evil.file_name = "../../etc/passwd";
  CHECK(cache.fetch(evil).status().code() == Code::kInvalidArgument);
}

TEST_CASE("http:// download, resume from a .part, corrupt .part") {
  testing::TempDir dir;
  std::string data = content(2'500'000);
  FileServer server(data);
  ModelCache cache(dir.file("cache"));
  ModelFile f = facts(data, server.uri());
  const std::string path = cache.local_path(f);

  SUBCASE("fresh download, no Range") {
    auto r = cache.fetch(f);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(slurp(path) == data);
    CHECK(server.ranges() == std::vector<std::string>{""});
  }
  SUBCASE("resume: only the rest is asked for") {
    fs::create_directories(fs::path(path).parent_path());
    write_file(path + ".part", data.substr(0, 1'000'000));
    auto r = cache.fetch(f);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(slurp(path) == data);
    CHECK_FALSE(fs::exists(path + ".part"));
    CHECK(server.ranges() == std::vector<std::string>{"bytes=1000000-"});
  }
  SUBCASE("corrupt .part: sha256 mismatch, nothing left, the next fetch starts over") {
    fs::create_directories(fs::path(path).parent_path());
    write_file(path + ".part", std::string(1000, 'x'));
    auto r = cache.fetch(f);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("sha256 mismatch: expected " + f.sha256 + ", got ") == 0);
    CHECK_FALSE(fs::exists(path));
    CHECK_FALSE(fs::exists(path + ".part"));
    auto again = cache.fetch(f);
    REQUIRE(again.is_ok());
    CHECK(slurp(path) == data);
    CHECK(server.ranges() == std::vector<std::string>{"bytes=1000-", ""});
  }
  SUBCASE("a .part as long as the file (416) is dropped") {
    fs::create_directories(fs::path(path).parent_path());
    write_file(path + ".part", std::string(data.size(), 'y'));
    // Same length: the server answers 416; the .part is dropped, then retried whole.
    CHECK_FALSE(cache.fetch(f).is_ok());
    CHECK_FALSE(fs::exists(path + ".part"));
    REQUIRE(cache.fetch(f).is_ok());
    CHECK(slurp(path) == data);
  }
  SUBCASE("a present file is re-verified once per start; a corrupt one is fetched again") {
    REQUIRE(cache.fetch(f).is_ok());
    write_file(path, std::string(data.size(), 'z'));
    ModelCache restarted(dir.file("cache"));
    auto r = restarted.fetch(f);
    REQUIRE(r.is_ok());
    CHECK(slurp(path) == data);
    CHECK(server.ranges().size() == 2);
  }
}

TEST_CASE("http:// server that ignores Range: the whole file replaces the .part") {
  testing::TempDir dir;
  std::string data = content(200'000);
  FileServer server(data, /*honour_range=*/false);
  ModelCache cache(dir.file("cache"));
  ModelFile f = facts(data, server.uri());
  fs::create_directories(fs::path(cache.local_path(f)).parent_path());
  write_file(cache.local_path(f) + ".part", data.substr(0, 5000));
  auto r = cache.fetch(f);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  CHECK(slurp(r.value()) == data);
  CHECK(server.ranges() == std::vector<std::string>{"bytes=5000-"});
}

TEST_CASE("ensure() works in the background and reports progress") {
  testing::TempDir dir;
  std::string data = content(100'000);
  FileServer server(data);
  ModelCache cache(dir.file("cache"), 50ms);
  std::atomic<int> changes{0};
  cache.set_on_change([&] { ++changes; });
  ModelFile f = facts(data, server.uri());
  CHECK_FALSE(cache.ensure(f).has_value());
  std::optional<std::string> path;
  for (int i = 0; i < 500 && !path; ++i) {
    std::this_thread::sleep_for(10ms);
    path = cache.ensure(f);
  }
  REQUIRE(path.has_value());
  CHECK(slurp(*path) == data);
  CHECK(changes.load() >= 1);
  auto reports = cache.report();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].state == FileState::kPresent);
  CHECK(reports[0].bytes_present == 100'000);

  // A failing file is reported failed, then retried after retry_after.
  ModelFile bad = facts(content(123), "http://127.0.0.1:1/none", "mf-bad");
  CHECK_FALSE(cache.ensure(bad).has_value());
  std::optional<FileReport> st;
  for (int i = 0; i < 500; ++i) {
    std::this_thread::sleep_for(10ms);
    st = cache.state("mf-bad");
    if (st && st->state == FileState::kFailed) break;
  }
  REQUIRE(st.has_value());
  CHECK(st->state == FileState::kFailed);
  CHECK_FALSE(st->reason.empty());
}

}  // namespace
}  // namespace scn::node_agent
