// The broker's model store: GET /store/{file_name} serves the files of one
// directory, so that catalog URIs may be http://broker/store/<file>.
//
// Contract:
//  - Only plain file names are served: a name with '/', '\', NUL, or one
//    that starts with '.' (so also "..") is 404, as is a name that is not a
//    regular file of the directory, and every name when the directory is
//    not set or does not exist.
//  - Answers carry Accept-Ranges: bytes, ETag ("<size hex>-<mtime hex>"),
//    Content-Type application/octet-stream. If-None-Match with the current
//    ETag: 304.
//  - Range: one range "bytes=A-B", "bytes=A-" or "bytes=-N" is answered 206
//    with Content-Range; a range that starts at or after the end is 416 with
//    "Content-Range: bytes */SIZE"; a malformed or multi-range header is
//    ignored (200, whole file). If-Range with another ETag also ignores it.
//  - Answers up to kWholeAnswerLimit bytes are sent with Content-Length;
//    larger ones are streamed (chunked, 1 MiB pieces) - fetch big files by
//    Range when the length must be known up front (the catalog has it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/http/server.h"

namespace scn::broker {

inline constexpr std::uint64_t kWholeAnswerLimit = 64ull << 20;

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

// The range a "Range" header asks of a file of `size` bytes: nullopt when it
// is to be ignored (absent, malformed, several ranges); kUnsatisfiable is
// reported through `unsatisfiable`.
std::optional<ByteRange> parse_byte_range(std::string_view header, std::uint64_t size,
                                          bool* unsatisfiable);

// True for names the store may serve ("model.gguf"); false for "", ".x",
// "..", "a/b", "a\\b".
bool is_plain_file_name(std::string_view name);

// Answers GET /store/{file_name} from `dir` ("" = no store).
void serve_model_file(const std::string& dir, const http::Request& request, http::Response& response);

}  // namespace scn::broker
