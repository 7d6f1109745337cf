#include "catalog/catalog_cli.h"

#include <boost/json/value.hpp>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "catalog/catalog_store.h"
#include "common/json.h"
#include "common/db/test_db.h"
#include "tests/testing.h"

namespace scn::catalog {
namespace {

namespace fs = std::filesystem;

int run(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return catalog_main(static_cast<int>(args.size()), argv.data());
}

// Runs catalog_main with its stdout going to a file; returns what it printed.
std::string run_capturing(std::vector<std::string> args, int* rc) {
  scn::testing::TempDir dir;
  const std::string path = dir.file("stdout");
  std::fflush(stdout);
  const int saved = ::dup(1);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(saved >= 0);
  REQUIRE(fd >= 0);
  ::dup2(fd, 1);
  ::close(fd);
  *rc = run(std::move(args));
  std::fflush(stdout);
  ::dup2(saved, 1);
  ::close(saved);
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string demo_path() { return (fs::path(__FILE__).parent_path() / "demo_catalog.json").string(); }

TEST_CASE("scn catalog: usage errors are 2, --help is 0") {
  CHECK(run({"catalog"}) == 2);
  CHECK(run({"catalog", "bogus"}) == 2);
  CHECK(run({"catalog", "--help"}) == 0);
  CHECK(run({"catalog", "import", "--help"}) == 0);
  CHECK(run({"catalog", "import", "--pg-url", "postgresql://x@127.0.0.1:1/x"}) == 2);  // no FILE
  CHECK(run({"catalog", "import", "a.json", "--bogus"}) == 2);
  CHECK(run({"catalog", "list", "--context", "0", "--pg-url", "postgresql://x@127.0.0.1:1/x"}) == 2);
}

TEST_CASE("scn catalog import migrates, imports the demo catalog once, and lists it") {
  auto db = db::testing::make_test_database(/*migrated=*/false);
  if (!db) return;
  const std::string shared = scn::testing::shared_dir().string();
  if (!fs::exists(scn::testing::shared_path("models/stories260K.gguf"))) {
    if (scn::testing::in_ci()) FAIL("missing ../shared/models/stories260K.gguf");
    return;
  }
  const std::string url = db->db->url();
  CHECK(run({"catalog", "import", demo_path(), "--pg-url", url, "--shared-dir", shared}) == 0);
  CHECK(run({"catalog", "import", demo_path(), "--pg-url", url, "--shared-dir", shared}) == 0);
  int rc = -1;
  const std::string table = run_capturing({"catalog", "list", "--pg-url", url}, &rc);
  CHECK(rc == 0);
  CHECK(table.find("stories260k") != std::string::npos);
  CHECK(table.find("present") != std::string::npos);
  CHECK(table.find("absent") != std::string::npos);
  const std::string json = run_capturing({"catalog", "list", "--pg-url", url, "--json"}, &rc);
  CHECK(rc == 0);
  auto parsed = common::parse_json(json);
  REQUIRE_MESSAGE(parsed.is_ok(), parsed.status().to_string());
  REQUIRE(parsed->is_array());
  CHECK(parsed->as_array().size() == 19);
  const auto& last = parsed->as_array().back().as_object();  // ordered by family: tinyllamas
  CHECK(last.at("name").as_string() == "stories260k");
  const auto& req = last.at("files").as_array().at(0).as_object().at("requirements").as_object();
  CHECK(req.at("kv_bytes_per_token").as_int64() == 1280);
  CHECK(req.at("bytes_at_max_context").as_int64() == 1185376 + 1280 * 2048 + 268435456);

  CatalogStore store(**db);
  auto cards = store.list_models();
  REQUIRE_MESSAGE(cards.is_ok(), cards.status().to_string());
  CHECK(cards->size() == 19);
  auto stories = store.get_model("stories260k");
  REQUIRE(stories.is_ok());
  const ModelFile& f = stories->files.at(0);
  CHECK(*f.uri == "file://" + fs::canonical(scn::testing::shared_path("models/stories260K.gguf")).string());
  CHECK(store.check_launchable(f.id).is_ok());
}

TEST_CASE("scn catalog import of a bad file fails and writes nothing") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  scn::testing::TempDir dir;
  const std::string url = db->db->url();

  // An unknown quantization.
  std::string text;
  {
    std::ifstream in(demo_path());
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = text.rfind("\"Q8_0\"");
  REQUIRE(at != std::string::npos);
  std::string bad = text;
  bad.replace(at, 6, "\"Q2_K\"");
  std::ofstream(dir.file("bad.json")) << bad;
  CHECK(run({"catalog", "import", dir.file("bad.json"), "--pg-url", url, "--shared-dir", dir.path().string()}) == 1);

  // A local file that is not in the shared folder given.
  std::ofstream(dir.file("good.json")) << text;
  CHECK(run({"catalog", "import", dir.file("good.json"), "--pg-url", url, "--shared-dir", dir.path().string()}) == 1);
  CHECK(run({"catalog", "import", dir.file("missing.json"), "--pg-url", url}) == 1);

  CatalogStore store(**db);
  auto cards = store.list_models();
  REQUIRE(cards.is_ok());
  CHECK(cards->empty());
}

}  // namespace
}  // namespace scn::catalog
