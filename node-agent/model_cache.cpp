#include "node-agent/model_cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/crypto/crypto.h"
#include "common/http/client.h"
#include "common/log.h"

namespace scn::node_agent {
namespace fs = std::filesystem;
namespace {

constexpr size_t kBufferBytes = 1 << 20;
constexpr std::chrono::milliseconds kDownloadStepTimeout{15'000};

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status errno_error(const std::string& what) {
  return Status::io_error(what + ": " + std::strerror(errno));
}

bool pwrite_all(int fd, const char* data, size_t n, off_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, offset);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
    offset += w;
  }
  return true;
}

// Moves bytes [from, from + n) of the file to [0, n) and truncates it to n.
Status shift_to_front(int fd, off_t from, off_t n) {
  std::vector<char> buf(kBufferBytes);
  off_t done = 0;
  while (done < n) {
    size_t want = static_cast<size_t>(std::min<off_t>(n - done, static_cast<off_t>(buf.size())));
    ssize_t r = ::pread(fd, buf.data(), want, from + done);
    if (r <= 0) return errno_error("download: reading the .part");
    if (!pwrite_all(fd, buf.data(), static_cast<size_t>(r), done)) {
      return errno_error("download: writing the .part");
    }
    done += r;
  }
  if (::ftruncate(fd, n) != 0) return errno_error("download: truncating the .part");
  return Status::ok();
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status validate(const ModelFile& f) {
  if (f.model_file_id.empty()) return Status::invalid_argument("model file without an id");
  if (f.file_name.empty() || f.file_name == "." || f.file_name == ".." ||
      f.file_name.find('/') != std::string::npos) {
    return Status::invalid_argument("bad model file name '" + f.file_name + "'");
  }
  if (!is_hex64(f.sha256)) {
    return Status::invalid_argument("bad sha256 '" + f.sha256 + "' (64 lower-case hex digits)");
  }
  return Status::ok();
}

// "bytes 100-199/200" -> 100; -1 when malformed.
std::int64_t content_range_start(std::string_view v) {
  if (v.substr(0, 6) != "bytes ") return -1;
  v.remove_prefix(6);
  std::int64_t n = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) n = n * 10 + (v[i] - '0');
  if (i == 0 || i >= v.size() || v[i] != '-') return -1;
  return n;
}

}  // namespace

std::string_view file_state_name(FileState state) {
  switch (state) {
    case FileState::kDownloading: return "downloading";
    case FileState::kPresent: return "present";
    case FileState::kFailed: return "failed";
  }
  return "failed";
}

Result<std::string> sha256_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return errno_error("open " + path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Status::internal("sha256: EVP init failed");
  }
  std::vector<char> buf(kBufferBytes);
  while (true) {
    ssize_t r = ::read(fd.get(), buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno_error("read " + path);
    }
    if (r == 0) break;
    if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(r)) != 1) {
      return Status::internal("sha256: EVP update failed");
    }
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md.data(), &len) != 1) {
    return Status::internal("sha256: EVP final failed");
  }
  return crypto::to_hex(std::string_view(reinterpret_cast<const char*>(md.data()), len));
}

ModelCache::ModelCache(std::string cache_dir, std::chrono::milliseconds retry_after)
    : dir_(std::move(cache_dir)), retry_after_(retry_after) {
  worker_ = std::thread([this] { worker_loop(); });
}

ModelCache::~ModelCache() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

std::string ModelCache::local_path(const ModelFile& file) const {
  return (fs::path(dir_) / file.sha256 / file.file_name).string();
}

void ModelCache::set_on_change(std::function<void()> on_change) {
  std::lock_guard lock(mu_);
  on_change_ = std::move(on_change);
}

std::optional<std::string> ModelCache::ensure(const ModelFile& file) {
  std::unique_lock lock(mu_);
  auto [it, inserted] = entries_.try_emplace(file.model_file_id);
  Entry& e = it->second;
  if (inserted) {
    e.file = file;
    e.report.model_file_id = file.model_file_id;
  }
  if (e.report.state == FileState::kPresent && e.verified) {
    std::string path = local_path(e.file);
    std::error_code ec;
    if (fs::exists(path, ec)) return path;
    e.verified = false;  // removed behind our back: fetch again
    e.report.state = FileState::kDownloading;
    e.report.bytes_present = 0;
  }
  if (e.report.state == FileState::kFailed &&
      std::chrono::steady_clock::now() - e.failed_at < retry_after_) {
    return std::nullopt;
  }
  if (!e.queued) {
    e.file = file;
    e.queued = true;
    queue_.push_back(file.model_file_id);
    lock.unlock();
    cv_.notify_all();
  }
  return std::nullopt;
}

Result<std::string> ModelCache::fetch(const ModelFile& file) {
  {
    std::lock_guard lock(mu_);
    Entry& e = entries_[file.model_file_id];
    e.file = file;
    e.report.model_file_id = file.model_file_id;
    e.report.state = FileState::kDownloading;
    e.report.reason.clear();
  }
  auto result = fetch_impl(file);
  finish(file.model_file_id, result);
  return result;
}

std::vector<FileReport> ModelCache::report() const {
  std::lock_guard lock(mu_);
  std::vector<FileReport> out;
  for (const auto& [id, e] : entries_) out.push_back(e.report);
  return out;
}

std::optional<FileReport> ModelCache::state(const std::string& model_file_id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(model_file_id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.report;
}

void ModelCache::worker_loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::string id = queue_.front();
    queue_.pop_front();
    auto it = entries_.find(id);
    if (it == entries_.end()) continue;
    ModelFile file = it->second.file;
    if (it->second.report.state != FileState::kDownloading) {
      it->second.report.state = FileState::kDownloading;
      it->second.report.reason.clear();
      auto cb = on_change_;
      lock.unlock();
      if (cb) cb();
      lock.lock();
    }
    lock.unlock();
    auto result = fetch_impl(file);
    finish(id, result);
    lock.lock();
  }
}

void ModelCache::finish(const std::string& id, const Result<std::string>& result) {
  std::function<void()> cb;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    e.queued = false;
    if (result.is_ok()) {
      e.report.state = FileState::kPresent;
      e.report.reason.clear();
      std::error_code ec;
      auto size = fs::file_size(result.value(), ec);
      e.report.bytes_present = ec ? e.file.size_bytes : static_cast<std::int64_t>(size);
      e.verified = true;
    } else {
      if (stop_ && result.status().code() == Code::kCancelled) return;
      e.report.state = FileState::kFailed;
      e.report.reason = result.status().message();
      e.failed_at = std::chrono::steady_clock::now();
      e.verified = false;
      common::log_warn("model cache: ", e.file.file_name, ": ", e.report.reason);
    }
    cb = on_change_;
  }
  if (cb) cb();
}

void ModelCache::set_progress(const std::string& id, std::int64_t bytes) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.report.bytes_present = bytes;
}

Status ModelCache::verify(const ModelFile& file, const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return Status::io_error("stat " + path + ": " + ec.message());
  if (file.size_bytes > 0 && static_cast<std::int64_t>(size) != file.size_bytes) {
    return Status::corrupt("size mismatch: expected " + std::to_string(file.size_bytes) +
                           " bytes, got " + std::to_string(size));
  }
  SCN_ASSIGN_OR_RETURN(std::string got, sha256_file(path));
  if (got != file.sha256) {
    return Status::corrupt("sha256 mismatch: expected " + file.sha256 + ", got " + got);
  }
  return Status::ok();
}

Result<std::string> ModelCache::fetch_impl(const ModelFile& file) {
  SCN_RETURN_IF_ERROR(validate(file));
  const std::string path = local_path(file);
  const std::string part = path + ".part";
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Status::io_error("create " + fs::path(path).parent_path().string() + ": " + ec.message());

  if (fs::exists(path, ec)) {
    set_progress(file.model_file_id, static_cast<std::int64_t>(fs::file_size(path, ec)));
    Status st = verify(file, path);
    if (st.is_ok()) return path;
    common::log_warn("model cache: ", path, ": ", st.message(), "; fetching it again");
    fs::remove(path, ec);
  }

  Status st;
  if (file.uri.rfind("file://", 0) == 0) {
    st = copy_file_uri(file, part);
  } else if (file.uri.rfind("http://", 0) == 0) {
    st = download_http(file, part);
  } else {
    return Status::invalid_argument("unsupported model URI '" + file.uri +
                                    "' (file:// and http:// are supported)");
  }
  if (!st.is_ok()) return st;
  st = verify(file, part);
  if (!st.is_ok()) {
    fs::remove(part, ec);
    set_progress(file.model_file_id, 0);
    return st;
  }
  fs::rename(part, path, ec);
  if (ec) return Status::io_error("rename " + part + ": " + ec.message());
  return path;
}

Status ModelCache::copy_file_uri(const ModelFile& file, const std::string& part) {
  std::string src = file.uri.substr(7);  // file:///abs/path -> /abs/path
  if (src.empty() || src[0] != '/') {
    return Status::invalid_argument("file URI must be absolute: " + file.uri);
  }
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    return errno == ENOENT ? Status::not_found("model file " + src + " does not exist")
                           : errno_error("open " + src);
  }
  Fd out(::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.get() < 0) return errno_error("create " + part);
  std::vector<char> buf(kBufferBytes);
  std::int64_t total = 0;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return Status::cancelled("model cache stopping");
    }
    ssize_t r = ::read(in.get(), buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno_error("read " + src);
    }
    if (r == 0) break;
    if (!pwrite_all(out.get(), buf.data(), static_cast<size_t>(r), total)) {
      return errno_error("write " + part);
    }
    total += r;
    set_progress(file.model_file_id, total);
  }
  return Status::ok();
}

Status ModelCache::download_http(const ModelFile& file, const std::string& part) {
  std::error_code ec;
  std::int64_t have = 0;
  if (fs::exists(part, ec)) have = static_cast<std::int64_t>(fs::file_size(part, ec));
  if (ec || (file.size_bytes > 0 && have > file.size_bytes)) {
    fs::remove(part, ec);  // longer than the file: useless
    have = 0;
  }
  Fd fd(::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return errno_error("create " + part);
  set_progress(file.model_file_id, have);

  http::Headers headers;
  if (have > 0) headers.set("Range", "bytes=" + std::to_string(have) + "-");
  // The answer's status is known only afterwards: bytes are written from
  // offset `have` and moved to the front when the server ignored the Range.
  std::int64_t received = 0;
  bool write_failed = false;
  bool cancelled = false;
  auto on_data = [&](std::string_view data) {
    {
      std::lock_guard lock(mu_);
      if (stop_) {
        cancelled = true;
        return false;
      }
    }
    if (!pwrite_all(fd.get(), data.data(), data.size(), have + received)) {
      write_failed = true;
      return false;
    }
    received += static_cast<std::int64_t>(data.size());
    set_progress(file.model_file_id, have + received);
    return true;
  };
  auto result = http::request_stream("GET", file.uri, {}, headers, on_data, kDownloadStepTimeout);
  if (write_failed) return errno_error("write " + part);
  if (cancelled) return Status::cancelled("model cache stopping");
  if (!result.is_ok()) {
    // Kept for the next resume (what arrived continues the .part when the
    // answer was 206; otherwise the final sha256 check catches it).
    return result.status().with_context("download " + file.uri);
  }
  const int status = result->status;
  if (status == 206 && have > 0) {
    auto range = result->headers.get("Content-Range");
    if (!range || content_range_start(*range) != have) {
      fs::remove(part, ec);
      return Status::io_error("download " + file.uri + ": 206 with an unexpected Content-Range '" +
                              std::string(range.value_or("")) + "'");
    }
    if (::ftruncate(fd.get(), have + received) != 0) return errno_error("truncate " + part);
    return Status::ok();
  }
  if (status == 200) {
    if (have > 0) {
      common::log_info("model cache: ", file.uri, " ignored the Range; downloaded it whole");
      SCN_RETURN_IF_ERROR(shift_to_front(fd.get(), have, received));
    } else if (::ftruncate(fd.get(), received) != 0) {
      return errno_error("truncate " + part);
    }
    return Status::ok();
  }
  if (::ftruncate(fd.get(), have) != 0) return errno_error("truncate " + part);
  if (status == 416 && have > 0) {
    fs::remove(part, ec);  // the .part is not a prefix the server can continue
    return Status::io_error("download " + file.uri + ": HTTP 416 for bytes=" +
                            std::to_string(have) + "-; the .part was dropped");
  }
  return Status::io_error("download " + file.uri + ": HTTP " + std::to_string(status));
}

}  // namespace scn::node_agent
