#include "bench/canned_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "bench/http_text.h"

namespace scn::bench {
namespace {

constexpr std::size_t kMaxHead = 16 * 1024;
constexpr long long kMaxBody = 1 << 20;

std::string answer(int status, std::string_view reason, std::string_view body, bool close) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                    "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                    (close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
  out += body;
  return out;
}

// The length of the complete request at `in[at..]`: 0 when not yet complete,
// -1 when it cannot be served (malformed, too large, chunked).
long long request_length(std::string_view in) {
  const std::size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return in.size() > kMaxHead ? -1 : 0;
  if (head_end > kMaxHead) return -1;
  long long content_length = 0;
  std::size_t line = in.find("\r\n") + 2;
  while (line < head_end) {
    const std::size_t eol = in.find("\r\n", line);
    const std::string_view h = in.substr(line, eol - line);
    if (iprefix(h, "content-length:")) {
      std::string_view v = h.substr(15);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      content_length = 0;
      if (v.empty()) return -1;
      for (char c : v) {
        if (c < '0' || c > '9' || content_length > kMaxBody) return -1;
        content_length = content_length * 10 + (c - '0');
      }
      if (content_length > kMaxBody) return -1;
    }
    if (iprefix(h, "transfer-encoding:")) return -1;
    line = eol + 2;
  }
  const std::size_t total = head_end + 4 + static_cast<std::size_t>(content_length);
  return in.size() >= total ? static_cast<long long>(total) : 0;
}

struct Conn {
  std::string in;
  std::string out;
  bool closing = false;   // close once `out` is sent
  bool want_out = false;  // EPOLLOUT registered
};

}  // namespace

struct CannedUpstream::Impl {
  std::string ok, health, not_found, bad;
  int listen_fd = -1, ep = -1, wake = -1, port = 0;
  std::thread thread;
  std::unordered_map<int, Conn> conns;

  void close_conn(int fd) {
    ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns.erase(fd);
  }

  // Sends what `c.out` holds; false when the connection is to be closed.
  bool flush(int fd, Conn& c) {
    while (!c.out.empty()) {
      const ssize_t w = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (w > 0) {
        c.out.erase(0, static_cast<std::size_t>(w));
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return false;
    }
    const bool need_out = !c.out.empty();
    if (need_out != c.want_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (need_out ? EPOLLOUT : 0u);
      ev.data.fd = fd;
      ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
      c.want_out = need_out;
    }
    return !(c.out.empty() && c.closing);
  }

  // Answers every complete request in `c.in` and drops it from there.
  void serve(Conn& c) {
    std::string_view pending = c.in;
    while (!pending.empty() && !c.closing) {
      const long long len = request_length(pending);
      if (len == 0) break;
      if (len < 0) {
        c.out += bad;
        c.closing = true;
        break;
      }
      if (pending.starts_with("POST /v1/completions ")) c.out += ok;
      else if (pending.starts_with("GET /health ")) c.out += health;
      else c.out += not_found;
      pending.remove_prefix(static_cast<std::size_t>(len));
    }
    c.in.erase(0, c.in.size() - pending.size());
  }

  void loop() {
    epoll_event events[128];
    char buf[64 * 1024];
    for (;;) {
      const int n = ::epoll_wait(ep, events, 128, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;
      for (int k = 0; k < n; ++k) {
        const int fd = events[k].data.fd;
        if (fd == wake) return;
        if (fd == listen_fd) {
          for (;;) {
            const int cfd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (cfd < 0) break;
            int one = 1;
            ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.fd = cfd;
            ::epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
            conns[cfd] = Conn{};
          }
          continue;
        }
        auto it = conns.find(fd);
        if (it == conns.end()) continue;
        Conn& c = it->second;
        if (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          // One read per readiness (epoll is level-triggered): a second read
          // would almost always find nothing and cost a system call.
          const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
          if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            close_conn(fd);
            continue;
          }
          if (r > 0) {
            c.in.append(buf, static_cast<std::size_t>(r));
            serve(c);
          }
        }
        if (!flush(fd, c)) close_conn(fd);
      }
    }
  }
};

CannedUpstream::CannedUpstream(std::string completion_body) : impl_(std::make_unique<Impl>()) {
  impl_->ok = answer(200, "OK", completion_body, false);
  impl_->health = answer(200, "OK", "{}", false);
  impl_->not_found = answer(404, "Not Found",
                            R"({"error":{"type":"not_found","message":"the canned upstream serves)"
                            R"( POST /v1/completions and GET /health"}})",
                            false);
  impl_->bad = answer(400, "Bad Request",
                      R"({"error":{"type":"invalid_request_error","message":"malformed or unsupported request"}})",
                      true);
}

CannedUpstream::~CannedUpstream() { stop(); }

Status CannedUpstream::start() {
  Impl& s = *impl_;
  if (s.thread.joinable()) return Status::conflict("the canned upstream is running");
  s.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.listen_fd < 0) return Status::io_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(s.listen_fd, 1024) != 0 ||
      ::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(s.listen_fd);
    s.listen_fd = -1;
    return Status::unavailable("cannot listen on 127.0.0.1: " + why);
  }
  s.port = ntohs(addr.sin_port);
  s.ep = ::epoll_create1(EPOLL_CLOEXEC);
  s.wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.ep < 0 || s.wake < 0) {
    stop();
    return Status::io_error("epoll or eventfd failed");
  }
  for (int fd : {s.listen_fd, s.wake}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(s.ep, EPOLL_CTL_ADD, fd, &ev);
  }
  s.thread = std::thread([&s] { s.loop(); });
  return Status::ok();
}

int CannedUpstream::port() const { return impl_->port; }

void CannedUpstream::stop() {
  Impl& s = *impl_;
  if (s.thread.joinable()) {
    const std::uint64_t one = 1;
    (void)!::write(s.wake, &one, sizeof one);
    s.thread.join();
  }
  for (auto& [fd, c] : s.conns) ::close(fd);
  s.conns.clear();
  for (int* fd : {&s.listen_fd, &s.ep, &s.wake}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

}  // namespace scn::bench
