#include "broker/gateway/model_store.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/log.h"

namespace scn::broker {
namespace {

constexpr std::string_view kPrefix = "/store/";
constexpr std::size_t kPiece = 1u << 20;

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

void not_found(http::Response& response) {
  http::error_response(response, Status::not_found("no such file in the model store"));
}

}  // namespace

bool is_plain_file_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  for (char c : name) {
    if (c == '/' || c == '\\' || c == '\0') return false;
  }
  return true;
}

std::optional<ByteRange> parse_byte_range(std::string_view header, std::uint64_t size,
                                          bool* unsatisfiable) {
  *unsatisfiable = false;
  constexpr std::string_view kUnit = "bytes=";
  if (header.substr(0, kUnit.size()) != kUnit) return std::nullopt;
  std::string_view spec = header.substr(kUnit.size());
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  if (spec.find(',') != std::string_view::npos) return std::nullopt;  // several ranges
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {  // suffix: the last N bytes
    auto n = parse_u64(b);
    if (!n) return std::nullopt;
    if (*n == 0 || size == 0) {
      *unsatisfiable = true;
      return std::nullopt;
    }
    const std::uint64_t len = std::min(*n, size);
    return ByteRange{size - len, size - 1};
  }
  auto first = parse_u64(a);
  if (!first) return std::nullopt;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto l = parse_u64(b);
    if (!l || *l < *first) return std::nullopt;
    last = std::min(*l, last);
  }
  if (*first >= size) {
    *unsatisfiable = true;
    return std::nullopt;
  }
  return ByteRange{*first, last};
}

void serve_model_file(const std::string& dir, const http::Request& request, http::Response& response) {
  namespace fs = std::filesystem;
  std::string_view name = request.path;
  if (name.substr(0, kPrefix.size()) != kPrefix) return not_found(response);
  name.remove_prefix(kPrefix.size());
  if (dir.empty() || !is_plain_file_name(name)) return not_found(response);

  std::error_code ec;
  const fs::path path = fs::path(dir) / std::string(name);
  if (!fs::is_regular_file(path, ec)) return not_found(response);
  const std::uint64_t size = fs::file_size(path, ec);
  if (ec) return not_found(response);
  const auto mtime = fs::last_write_time(path, ec);
  if (ec) return not_found(response);
  const std::string etag =
      "\"" + hex(size) + "-" + hex(static_cast<std::uint64_t>(mtime.time_since_epoch().count())) + "\"";

  response.set_header("ETag", etag);
  response.set_header("Accept-Ranges", "bytes");
  if (auto inm = request.headers.get("If-None-Match"); inm && (*inm == etag || *inm == "*")) {
    response.set_status(304);
    return;
  }

  std::uint64_t first = 0, last = size == 0 ? 0 : size - 1;
  bool partial = false;
  const auto if_range = request.headers.get("If-Range");
  if (auto range = request.headers.get("Range"); range && (!if_range || *if_range == etag)) {
    bool unsatisfiable = false;
    auto r = parse_byte_range(*range, size, &unsatisfiable);
    if (unsatisfiable) {
      http::error_response(response, 416, "invalid_request_error", "range not satisfiable");
      response.set_header("Content-Range", "bytes */" + std::to_string(size));
      return;
    }
    if (r) {
      first = r->first;
      last = r->last;
      partial = true;
    }
  }
  const std::uint64_t length = size == 0 ? 0 : last - first + 1;

  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(response);
  in.seekg(static_cast<std::streamoff>(first));
  const int status = partial ? 206 : 200;
  response.set_header("Content-Type", "application/octet-stream");
  if (partial) {
    response.set_header("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                             "/" + std::to_string(size));
  }
  if (length <= kWholeAnswerLimit) {
    std::string body(length, '\0');
    in.read(body.data(), static_cast<std::streamsize>(length));
    if (static_cast<std::uint64_t>(in.gcount()) != length) {
      http::error_response(response, Status::io_error("cannot read the file"));
      return;
    }
    response.set_status(status);
    response.set_body(std::move(body));
    return;
  }
  if (!response.start_stream(status)) return;
  std::vector<char> piece(kPiece);
  std::uint64_t left = length;
  while (left > 0 && !response.client_gone()) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kPiece));
    in.read(piece.data(), static_cast<std::streamsize>(n));
    if (static_cast<std::size_t>(in.gcount()) != n) {
      common::log_warn("model store: reading ", path.string(), " failed");
      response.mark_client_gone();  // cut the answer short rather than send a wrong length
      return;
    }
    if (!response.write(std::string_view(piece.data(), n))) return;
    left -= n;
  }
  response.end();
}

}  // namespace scn::broker
