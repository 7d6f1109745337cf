// Async routes: adding them, and the streaming and worker-pool helpers of
// async handlers (the connection side is server_connection.cpp).
#include "common/http/async_route.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

#include "common/http/server_internal.h"

namespace scn::http {

using detail::AsyncAccess;
using detail::Op;
namespace net = boost::asio;

void route_async(Server& server, std::string method, std::string path, AsyncHandler handler) {
  AsyncAccess::add_route(server, detail::Route{std::move(method), std::move(path), false, {}, std::move(handler)});
}

void route_prefix_async(Server& server, std::string method, std::string prefix, AsyncHandler handler) {
  AsyncAccess::add_route(server, detail::Route{std::move(method), std::move(prefix), true, {}, std::move(handler)});
}

net::awaitable<bool> async_start_stream(Response& response, int status, const Headers& headers) {
  auto* conn = AsyncAccess::connection(response);
  if (conn == nullptr) co_return response.start_stream(status, headers);  // detached
  if (!AsyncAccess::begin_stream(response, status, headers)) co_return false;
  Op op{Op::kStart, response.status(), response.headers(), {}};
  const bool ok = co_await conn->async_op(op);
  if (!ok) response.mark_client_gone();
  co_return ok;
}

net::awaitable<bool> async_write(Response& response, std::string_view chunk) {
  auto* conn = AsyncAccess::connection(response);
  if (conn == nullptr) co_return response.write(chunk);
  if (!response.streaming() || response.ended() || response.client_gone()) co_return false;
  if (chunk.empty()) co_return true;
  Op op{Op::kChunk, 0, {}, std::string(chunk)};
  const bool ok = co_await conn->async_op(op);
  if (!ok) response.mark_client_gone();
  co_return ok;
}

net::awaitable<void> async_end(Response& response) {
  auto* conn = AsyncAccess::connection(response);
  if (conn == nullptr) {
    response.end();
    co_return;
  }
  if (!response.streaming() || response.ended()) co_return;
  AsyncAccess::set_ended(response);
  Op op{Op::kEnd, 0, {}, {}};
  if (!co_await conn->async_op(op)) response.mark_client_gone();
}

void on_client_gone(Response& response, std::function<void()> fn) {
  if (fn && response.client_gone()) {
    AsyncAccess::on_gone(response) = nullptr;
    fn();
    return;
  }
  AsyncAccess::on_gone(response) = std::move(fn);
}

void fire_client_gone(Response& response) {
  response.mark_client_gone();
  auto fn = std::move(AsyncAccess::on_gone(response));
  AsyncAccess::on_gone(response) = nullptr;
  if (fn) fn();
}

net::awaitable<void> run_blocking(Response& response, std::function<void()> fn) {
  auto* conn = AsyncAccess::connection(response);
  if (conn == nullptr) {
    fn();
    co_return;
  }
  detail::ServerState* server = conn->server_state();
  co_await net::async_initiate<decltype(net::use_awaitable), void()>(
      [server, &fn](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto task = [h, &fn] {
          fn();
          auto ex = net::get_associated_executor(*h);
          net::post(ex, [h] { (*h)(); });
        };
        if (!server->pool.submit(task, server->options.max_pending_requests)) task();
      },
      net::use_awaitable);
}

}  // namespace scn::http
