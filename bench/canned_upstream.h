// CannedUpstream: the broker benchmark's trivially fast upstream. An
// HTTP/1.1 server on 127.0.0.1 that answers every request at once from
// memory, on one epoll thread, so that it takes as little as it can of the
// two cores the broker is measured on (the issue asks to bench the proxy
// path itself "with an upstream that answers at once").
//
// Contract:
//  - start() listens on an ephemeral loopback port (port()) and serves on
//    its own thread until stop() (or destruction).
//  - POST /v1/completions answers 200 with `completion_body`
//    (application/json); GET /health answers 200 {}; any other method or
//    path 404 with an OpenAI-style error body.
//  - Keep-alive and pipelined requests are served in order. A request head
//    is at most 16 KiB and its body (Content-Length) at most 1 MiB; a head
//    that is malformed, too large, or announces a chunked body gets 400 and
//    the connection is closed after it.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace scn::bench {

class CannedUpstream {
 public:
  explicit CannedUpstream(std::string completion_body);
  ~CannedUpstream();  // stop()s
  CannedUpstream(const CannedUpstream&) = delete;
  CannedUpstream& operator=(const CannedUpstream&) = delete;

  Status start();
  int port() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::bench
