// TimedSocket: the blocking HTTP client's (client.cpp) view of a connected,
// non-blocking TCP socket as a Beast SyncReadStream/SyncWriteStream whose
// operations wait in poll() and fail with boost::beast::error::timeout once the
// deadline set by arm() has passed, or with operation_aborted when the
// caller's cancellation check says so (polled every 20 ms while waiting).
// Internal to common/http: no event loop, timer or wake-up per step, which
// made up much of a proxied request's cost.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>

#include "common/http/client.h"

namespace scn::http {

class TimedSocket {
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::beast::error_code;

 public:
  explicit TimedSocket(tcp::socket& socket, const CancelCheck* cancelled = nullptr)
      : socket_(socket), cancelled_(cancelled != nullptr && *cancelled ? cancelled : nullptr) {}
  // Every operation until the next arm() must finish within `timeout`.
  void arm(std::chrono::milliseconds timeout) { deadline_ = std::chrono::steady_clock::now() + timeout; }
  // True once an operation gave up because `cancelled()` said so.
  bool was_cancelled() const { return was_cancelled_; }
  // The next read waits for the socket first: just after a request was
  // sent the answer is rarely there yet, and a read that fails with EAGAIN
  // before the poll() is a wasted system call.
  void expect_answer() { poll_first_ = true; }

  template <typename MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, error_code& ec) {
    if (poll_first_) {
      poll_first_ = false;
      if (!wait(POLLIN, ec)) return 0;
    }
    for (;;) {
      std::size_t n = socket_.read_some(buffers, ec);
      if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) return n;
      if (!wait(POLLIN, ec)) return 0;
    }
  }
  template <typename MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    error_code ec;
    std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <typename ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, error_code& ec) {
    for (;;) {
      std::size_t n = socket_.write_some(buffers, ec);
      if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) return n;
      if (!wait(POLLOUT, ec)) return 0;
    }
  }
  template <typename ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers) {
    error_code ec;
    std::size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  bool wait(short events, error_code& ec) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        ec = boost::beast::error::timeout;
        return false;
      }
      if (cancelled_ != nullptr && (*cancelled_)()) {
        was_cancelled_ = true;
        ec = boost::asio::error::operation_aborted;
        return false;
      }
      // With a cancellation check, wait in slices so that it is polled.
      const long long slice = cancelled_ != nullptr ? std::min<long long>(left.count() + 1, kCancelPollMs)
                                                    : std::min<long long>(left.count() + 1, INT_MAX);
      pollfd p{socket_.native_handle(), events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(slice));
      if (r > 0) {
        ec = {};
        return true;
      }
      if (r < 0 && errno != EINTR) {
        ec = error_code(errno, boost::system::system_category());
        return false;
      }
    }
  }

  static constexpr long long kCancelPollMs = 20;

  tcp::socket& socket_;
  const CancelCheck* cancelled_;
  bool was_cancelled_ = false;
  bool poll_first_ = false;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::now();
};

}  // namespace scn::http
