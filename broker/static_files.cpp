#include "broker/static_files.h"

#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

namespace scn::broker {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 4> kReservedPrefixes = {"/api/", "/v1/", "/store/", "/agent/"};
constexpr std::array<std::string_view, 4> kReservedPaths = {"/api", "/v1", "/health", "/metrics"};

bool reserved(std::string_view path) {
  for (auto p : kReservedPrefixes)
    if (path.starts_with(p)) return true;
  for (auto p : kReservedPaths)
    if (path == p || (path.starts_with(p) && path.size() > p.size() && path[p.size()] == '/'))
      return true;
  return false;
}

// The path's segments; false for ".", "..", NUL or backslash anywhere.
bool safe_segments(std::string_view path, std::vector<std::string>& out) {
  if (path.find('\0') != std::string_view::npos || path.find('\\') != std::string_view::npos)
    return false;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    if (seg == "." || seg == "..") return false;
    if (!seg.empty()) out.emplace_back(seg);
    i = j + 1;
  }
  return true;
}

void not_found(http::Response& res, std::string_view path) {
  http::error_response(res, 404, "not_found_error", "no such path: " + std::string(path));
}

bool read_file(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return false;
  out = std::move(ss).str();
  return true;
}

std::string etag_of(const struct stat& st) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ULL +
                    static_cast<unsigned long long>(st.st_mtim.tv_nsec));
  return buf;
}

bool etag_matches(std::string_view header, std::string_view etag) {
  // A list of entity tags, maybe weak ("W/...").
  std::size_t i = 0;
  while (i < header.size()) {
    std::size_t j = header.find(',', i);
    if (j == std::string_view::npos) j = header.size();
    std::string_view t = header.substr(i, j - i);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (t.starts_with("W/")) t.remove_prefix(2);
    if (t == "*" || t == etag) return true;
    i = j + 1;
  }
  return false;
}

// Answers the regular file `p` (already checked to be inside the root).
void send_file(const http::Request& req, http::Response& res, const fs::path& p,
               std::string_view cache_control) {
  struct stat st {};
  std::string body;
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !read_file(p, body)) {
    not_found(res, req.path);
    return;
  }
  const std::string etag = etag_of(st);
  res.set_header("ETag", etag);
  res.set_header("Cache-Control", cache_control);
  res.set_header("X-Content-Type-Options", "nosniff");
  if (auto inm = req.headers.get("If-None-Match"); inm && etag_matches(*inm, etag)) {
    res.set_status(304);
    return;
  }
  res.set_content(200, std::move(body), content_type_for(p.filename().string()));
}

bool inside(const fs::path& root, const fs::path& p) {
  auto r = root.begin();
  auto q = p.begin();
  for (; r != root.end(); ++r, ++q)
    if (q == p.end() || *q != *r) return false;
  return true;
}

}  // namespace

std::string_view content_type_for(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".map", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (name.size() > ext.size() && name.ends_with(ext)) return type;
  }
  return "application/octet-stream";
}

Result<std::unique_ptr<StaticFiles>> StaticFiles::open(const fs::path& root) {
  std::error_code ec;
  fs::path canonical = fs::canonical(root, ec);
  if (ec || !fs::is_directory(canonical, ec))
    return Status::not_found("web root " + root.string() + " is not a directory");
  if (!fs::is_regular_file(canonical / "index.html", ec))
    return Status::not_found("web root " + root.string() + " has no index.html");
  return std::unique_ptr<StaticFiles>(new StaticFiles(std::move(canonical)));
}

void StaticFiles::serve(const http::Request& req, http::Response& res) const {
  if (reserved(req.path)) return not_found(res, req.path);
  std::vector<std::string> segments;
  if (!safe_segments(req.path, segments)) return not_found(res, req.path);
  const bool asset = !segments.empty() && segments.front() == "assets";
  if (!segments.empty()) {
    fs::path p = root_;
    for (const auto& s : segments) p /= s;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
      fs::path real = fs::canonical(p, ec);
      if (ec || !inside(root_, real)) return not_found(res, req.path);
      send_file(req, res, real, asset ? "public, max-age=31536000, immutable" : "no-cache");
      return;
    }
  }
  if (asset) return not_found(res, req.path);
  send_file(req, res, root_ / "index.html", "no-cache");
}

void StaticFiles::mount(http::Server& server) const {
  server.route_prefix("GET", "/", [this](const http::Request& rq, http::Response& rs) { serve(rq, rs); });
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) {
    server.route_prefix(method, "/api/", [](const http::Request& rq, http::Response& rs) {
      not_found(rs, rq.path);
    });
  }
}

}  // namespace scn::broker
