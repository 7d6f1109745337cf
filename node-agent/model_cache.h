// ModelCache: the node's local copies of catalog model files.
//
// Contract:
//  - A file lives at <cache_dir>/<sha256>/<file_name>. It is fetched from its
//    catalog URI: file:///path is copied (a center's shared file system),
//    http://host/... is downloaded with the common/http client into
//    <path>.part. A download that finds a .part resumes with
//    `Range: bytes=<have>-` (206 continues the file; 200 means the server
//    sent the whole file, which then replaces the .part).
//  - Before a file is used its size and sha256 (OpenSSL EVP, streaming) are
//    checked; only then is the .part renamed into place. A mismatch deletes
//    the file and the entry becomes failed with "sha256 mismatch: expected
//    <hex>, got <hex>" (or "size mismatch: ..."). A file already in place is
//    re-verified once per ModelCache (i.e. once per agent start).
//  - ensure() never blocks: it answers the local path of a present, verified
//    file, or nullopt and queues the fetch on the cache's worker thread (so
//    heartbeats continue). A failed entry is retried by ensure() after
//    `retry_after` (the remote side may be fixed).
//  - report() gives per file: present | downloading | failed and the bytes
//    present (the heartbeat's `models`), `reason` for failed ones.
//  - fetch() does the same work synchronously on the calling thread.
//  - on_change (optional) is called from the worker thread when an entry
//    changes state.
//  - Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace scn::node_agent {

// A catalog model file, as the heartbeat answer names it.
struct ModelFile {
  std::string model_file_id;
  std::string file_name;
  std::string uri;
  std::string sha256;  // lower-case hex
  std::int64_t size_bytes = 0;
};

enum class FileState { kDownloading, kPresent, kFailed };
std::string_view file_state_name(FileState state);  // "downloading", "present", "failed"

struct FileReport {
  std::string model_file_id;
  FileState state = FileState::kDownloading;
  std::int64_t bytes_present = 0;
  std::string reason;  // failed only
};

// The lower-case hex sha256 of a file's contents.
Result<std::string> sha256_file(const std::string& path);

class ModelCache {
 public:
  explicit ModelCache(std::string cache_dir,
                      std::chrono::milliseconds retry_after = std::chrono::milliseconds(10'000));
  // Stops the worker (an interrupted download keeps its .part).
  ~ModelCache();
  ModelCache(const ModelCache&) = delete;
  ModelCache& operator=(const ModelCache&) = delete;

  std::optional<std::string> ensure(const ModelFile& file);
  Result<std::string> fetch(const ModelFile& file);

  std::vector<FileReport> report() const;
  std::optional<FileReport> state(const std::string& model_file_id) const;
  void set_on_change(std::function<void()> on_change);

  // Where `file` lives once present.
  std::string local_path(const ModelFile& file) const;

 private:
  struct Entry {
    ModelFile file;
    FileReport report;
    bool queued = false;
    bool verified = false;
    std::chrono::steady_clock::time_point failed_at;
  };
  void worker_loop();
  Result<std::string> fetch_impl(const ModelFile& file);
  Status copy_file_uri(const ModelFile& file, const std::string& part);
  Status download_http(const ModelFile& file, const std::string& part);
  Status verify(const ModelFile& file, const std::string& path);
  void set_progress(const std::string& id, std::int64_t bytes);
  void finish(const std::string& id, const Result<std::string>& result);

  const std::string dir_;
  const std::chrono::milliseconds retry_after_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;  // by model_file_id
  std::deque<std::string> queue_;
  std::function<void()> on_change_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace scn::node_agent
