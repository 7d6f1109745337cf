// Internal to common/http: the connection side of a streaming Response.
//
// Contract: implemented by the server's connection (server.cpp). Each call
// blocks the handler's thread until the IO side has finished the operation;
// every call is made from the one thread running the handler.
#pragma once

#include <atomic>
#include <memory>
#include <string_view>

#include "common/http/server.h"

namespace scn::http::detail {

class ResponseChannel {
 public:
  virtual ~ResponseChannel() = default;
  // Sends status line and headers of a chunked answer. False when failed.
  virtual bool start_stream(int status, const Headers& headers) = 0;
  // Sends one non-empty chunk. False when failed or the client is gone.
  virtual bool write(std::string_view chunk) = 0;
  // Queues the last chunk (does not wait for it to be written).
  virtual void end() = 0;

  // Set by the IO side when the client is gone; shared with the Response.
  std::shared_ptr<std::atomic<bool>> gone = std::make_shared<std::atomic<bool>>(false);
};

// The channel of an inline route's Response (Server::route_inline): it
// cannot stream, since its writes would wait for the IO thread the handler
// runs on.
class NoStreamChannel final : public ResponseChannel {
 public:
  bool start_stream(int, const Headers&) override { return false; }
  bool write(std::string_view) override { return false; }
  void end() override {}
};

}  // namespace scn::http::detail
