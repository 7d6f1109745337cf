// StaticFiles: serves the web console (web/dist) from the broker, on the same
// origin as /api/v1 so the session cookie works.
//
// Contract:
//  - serve() answers a GET for `request.path` from the directory `root`:
//     * Paths under the reserved prefixes /api/, /v1/, /store/, /agent/ and
//       the paths /health, /metrics (and below them) are never files: a JSON
//       404 not_found_error (the API's own routes are matched before this).
//     * A path with a "." or ".." segment, a NUL or a backslash is a JSON 404;
//       a file reached through a symbolic link that leaves `root` is too.
//     * An existing regular file is answered 200 with its Content-Type (by
//       extension: html, js, mjs, css, svg, png, jpg, ico, json, webmanifest,
//       woff, woff2, map, txt, wasm; else application/octet-stream), an ETag
//       (size and modification time) and Cache-Control: files under
//       /assets/ (content-hashed by the build) "public, max-age=31536000,
//       immutable", every other file "no-cache". If-None-Match matching the
//       ETag (or "*") is answered 304 with no body.
//     * A path under /assets/ that is no file: JSON 404 (a stale bundle name
//       must not be answered with HTML).
//     * Any other path (the console's own routes, "/", "/services/x"): the
//       root's index.html with Cache-Control: no-cache, so the app routes it.
//       No index.html: JSON 404.
//  - Thread-safe (no state but the root); every answer has
//    X-Content-Type-Options: nosniff.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/server.h"
#include "common/status.h"

namespace scn::broker {

class StaticFiles {
 public:
  // kNotFound when `root` is not a directory or has no index.html.
  static Result<std::unique_ptr<StaticFiles>> open(const std::filesystem::path& root);

  void serve(const http::Request& request, http::Response& response) const;
  // Routes GET "/" (prefix: every path no other route takes) to serve(), and
  // the other methods under /api/ to a JSON 404 (not 405).
  void mount(http::Server& server) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  explicit StaticFiles(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;  // canonical
};

// The Content-Type for a file name by its extension.
std::string_view content_type_for(std::string_view file_name);

// The console's build next to this binary's source tree (<source>/web/dist)
// when it has an index.html, else "".
std::string default_web_root();

}  // namespace scn::broker
