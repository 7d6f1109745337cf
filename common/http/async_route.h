// Async routes of the HTTP server (common/http/server.h): handlers that are
// C++20 coroutines (boost::asio::awaitable) and run on the IO thread of their
// connection, with no hand-off to the worker pool - for fast handlers that
// wait on other sockets (a proxy) rather than compute or block.
//
// Contract:
//  - route_async() / route_prefix_async() add routes like Server::route() /
//    route_prefix() (same matching; before start()). The handler is
//    co_awaited on the connection's strand; it must not block (a blocking
//    call stalls every connection of that IO thread; use run_blocking()).
//  - A complete answer is set on the Response as for blocking handlers and
//    sent when the coroutine returns. A handler that throws is answered 500
//    (or, when already streaming, its connection is closed).
//  - Streaming: async_start_stream() sends the status and headers (chunked),
//    async_write() one chunk, each resuming once the bytes were handed to
//    the socket (false: the client is gone or the write failed/timed out);
//    the last chunk is sent when the coroutine returns (or by
//    async_end()). Response::start_stream()/write() must not be called from
//    an async handler (they would wait for the coroutine itself).
//  - The client is watched as for blocking handlers (from 2 ms into the
//    handler, or from the stream's start): when it closes or resets the
//    connection, client_gone() becomes true and the callback of
//    on_client_gone() runs (at once when the client is already gone),
//    on the connection's strand (the handler's own executor), e.g. to close
//    an upstream connection the handler waits on. The callback is dropped
//    when the handler returns.
//  - run_blocking(response, fn) runs fn on the server's worker pool and
//    resumes on the connection's strand (fn runs inline when the pool is
//    full or the Response is detached).
//  - Detached Responses (tests): streaming appends to body()/chunks() as
//    Response::write() does; on_client_gone()'s callback runs on
//    mark_client_gone() only through fire_client_gone() (tests).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "common/http/server.h"

namespace scn::http {

using AsyncHandler = std::function<boost::asio::awaitable<void>(const Request&, Response&)>;

void route_async(Server& server, std::string method, std::string path, AsyncHandler handler);
void route_prefix_async(Server& server, std::string method, std::string prefix, AsyncHandler handler);

boost::asio::awaitable<bool> async_start_stream(Response& response, int status, const Headers& headers = {});
boost::asio::awaitable<bool> async_write(Response& response, std::string_view chunk);
boost::asio::awaitable<void> async_end(Response& response);

// Calls `fn` once when the client is gone (see the contract); an empty
// function removes the callback.
void on_client_gone(Response& response, std::function<void()> fn);
// Tests with detached Responses: marks the client gone and runs the callback.
void fire_client_gone(Response& response);

boost::asio::awaitable<void> run_blocking(Response& response, std::function<void()> fn);

}  // namespace scn::http
