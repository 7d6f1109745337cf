#include "bench/http_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "bench/http_text.h"

namespace scn::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::size_t sent = 0;
  std::string in;
  Clock::time_point started;
};

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // connects blocking: loopback, at once
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// The length of the complete answer at the start of `in`, 0 when not yet
// complete, -1 when malformed.
long long answer_length(const std::string& in) {
  const std::size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  const std::size_t body_at = head_end + 4;
  long long content_length = -1;
  bool chunked = false;
  std::size_t line = in.find("\r\n") + 2;
  while (line < head_end) {
    std::size_t eol = in.find("\r\n", line);
    std::string_view h(in.data() + line, eol - line);
    if (iprefix(h, "content-length:")) content_length = std::atoll(std::string(h.substr(15)).c_str());
    if (iprefix(h, "transfer-encoding:") && h.find("chunked") != std::string_view::npos) chunked = true;
    line = eol + 2;
  }
  if (!chunked) {
    if (content_length < 0) return -1;
    return in.size() >= body_at + content_length ? static_cast<long long>(body_at + content_length) : 0;
  }
  std::size_t at = body_at;
  for (;;) {
    std::size_t eol = in.find("\r\n", at);
    if (eol == std::string::npos) return 0;
    const long long size = std::strtoll(in.c_str() + at, nullptr, 16);
    if (size < 0) return -1;
    const std::size_t next = eol + 2 + static_cast<std::size_t>(size) + 2;
    if (in.size() < next) return 0;
    if (size == 0) return static_cast<long long>(next);
    at = next;
  }
}

}  // namespace

std::string raw_post(const std::string& path, const std::string& body, const std::string& bearer) {
  std::string r = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
  if (!bearer.empty()) r += "Authorization: Bearer " + bearer + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t i = std::min(values.size() - 1, static_cast<std::size_t>(q * static_cast<double>(values.size())));
  return values[i];
}

Result<HttpLoadResult> run_http_load(int port, const std::string& request, int connections, double seconds,
                                     double warmup_seconds, long long max_requests) {
  HttpLoadResult out;
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return Status::io_error("epoll_create1 failed");
  std::vector<Conn> conns(static_cast<std::size_t>(std::max(1, connections)));
  auto open = [&](std::size_t i) -> bool {
    Conn& c = conns[i];
    if (c.fd >= 0) ::close(c.fd);
    c = Conn{};
    c.fd = connect_to(port);
    if (c.fd < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    c.started = Clock::now();
    return true;
  };
  int opened = 0;
  for (std::size_t i = 0; i < conns.size(); ++i) opened += open(i) ? 1 : 0;
  if (opened == 0) {
    ::close(ep);
    return Status::unavailable("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  const auto t0 = Clock::now();
  const auto measure_from = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_seconds));
  const auto measure_to = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  out.latencies_ms.reserve(1 << 20);
  std::vector<epoll_event> events(conns.size());
  char buf[65536];
  bool done = false;
  auto finished = [&] { return max_requests > 0 && out.ok + out.errors >= max_requests; };
  while (!done) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    const auto now_loop = Clock::now();
    if (now_loop >= measure_to || finished()) break;
    for (int k = 0; k < n; ++k) {
      const std::size_t i = events[k].data.u64;
      Conn& c = conns[i];
      if (events[k].events & EPOLLOUT && c.sent < request.size()) {
        const ssize_t w = ::send(c.fd, request.data() + c.sent, request.size() - c.sent, MSG_NOSIGNAL);
        if (w > 0) c.sent += static_cast<std::size_t>(w);
        if (c.sent == request.size()) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = i;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
      if (!(events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      bool closed = false;
      for (;;) {
        // Until a short read: epoll is level-triggered, so reading again
        // until EAGAIN would almost always cost a system call for nothing.
        const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
        if (r > 0) {
          c.in.append(buf, static_cast<std::size_t>(r));
          if (static_cast<std::size_t>(r) < sizeof buf) break;
          continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
        break;
      }
      const long long len = answer_length(c.in);
      const auto now = Clock::now();
      const bool counted = now >= measure_from && now < measure_to;
      if (len > 0) {
        ++out.total;
        const bool ok = c.in.size() > 12 && c.in.compare(9, 3, "200") == 0;
        if (counted) {
          if (ok) {
            ++out.ok;
            out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - c.started).count());
          } else {
            ++out.errors;
          }
        }
        if (!ok && out.first_error.empty()) out.first_error = c.in.substr(0, std::min<std::size_t>(c.in.size(), 600));
        c.in.erase(0, static_cast<std::size_t>(len));
        c.sent = 0;
        c.started = now;
        const ssize_t w = ::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL);
        if (w > 0) c.sent = static_cast<std::size_t>(w);
        if (c.sent < request.size()) {
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLOUT;
          ev.data.u64 = i;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      } else if (closed || len < 0) {
        if (counted) ++out.errors;
        if (out.first_error.empty()) out.first_error = closed ? "connection closed" : "malformed answer";
        ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        open(i);
      }
    }
  }
  const auto end = std::min(Clock::now(), measure_to);
  out.seconds = std::max(0.0, std::chrono::duration<double>(end - measure_from).count());
  for (auto& c : conns) {
    if (c.fd >= 0) ::close(c.fd);
  }
  ::close(ep);
  return out;
}

}  // namespace scn::bench
