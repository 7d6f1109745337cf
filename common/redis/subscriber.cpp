// RedisSubscriber (common/redis/redis.h): SUBSCRIBE / PSUBSCRIBE on its own
// connection, a poll() loop over that socket and a wake-up pipe for stop().
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/log.h"
#include "common/redis/connection.h"
#include "common/redis/redis.h"

namespace scn::redis {
namespace {

bool flush_output(redisContext* c) {
  int done = 0;
  while (!done) {
    if (redisBufferWrite(c, &done) != REDIS_OK) return false;
  }
  return true;
}

std::string element_str(const redisReply* r, size_t i) {
  const redisReply* e = r->element[i];
  return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS ? std::string(e->str, e->len)
                                                                        : std::string();
}

}  // namespace

RedisSubscriber::RedisSubscriber(RedisOptions options) : options_(std::move(options)) {
  if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    wake_fds_[0] = wake_fds_[1] = -1;  // stop() then only sets the flag; run() polls it
  }
}

RedisSubscriber::~RedisSubscriber() {
  for (int fd : wake_fds_) {
    if (fd >= 0) ::close(fd);
  }
}

Result<std::unique_ptr<RedisSubscriber>> RedisSubscriber::create(std::string_view url) {
  SCN_ASSIGN_OR_RETURN(RedisOptions options, parse_redis_url(url));
  return std::make_unique<RedisSubscriber>(std::move(options));
}

void RedisSubscriber::stop() {
  stopped_.store(true);
  if (wake_fds_[1] >= 0) {
    char x = 1;
    [[maybe_unused]] auto n = ::write(wake_fds_[1], &x, 1);
  }
}

bool RedisSubscriber::wait_stop(std::chrono::milliseconds d) {
  if (stopped_.load()) return true;
  if (wake_fds_[0] >= 0) {
    pollfd p{wake_fds_[0], POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(d.count()));
  } else {
    ::usleep(static_cast<useconds_t>(std::min<long long>(d.count(), 100) * 1000));
  }
  return stopped_.load();
}

Status RedisSubscriber::run(const std::vector<std::string>& channels,
                            const std::vector<std::string>& patterns,
                            const MessageHandler& on_message,
                            const std::function<void()>& on_subscribed) {
  if (channels.empty() && patterns.empty())
    return Status::invalid_argument("redis: subscribe to at least one channel or pattern");
  if (!on_message) return Status::invalid_argument("redis: a subscriber needs a message handler");
  std::chrono::milliseconds backoff{50};
  while (!stopped_.load()) {
    Status error;
    Outcome o = session(channels, patterns, on_message, on_subscribed, &error);
    if (o == Outcome::kStopped) break;
    if (o == Outcome::kRefused) return error;
    common::log_warn("redis subscriber: ", error.message(), "; retrying in ", backoff.count(), " ms");
    if (wait_stop(backoff)) break;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
  return Status::ok();
}

RedisSubscriber::Outcome RedisSubscriber::session(const std::vector<std::string>& channels,
                                                  const std::vector<std::string>& patterns,
                                                  const MessageHandler& on_message,
                                                  const std::function<void()>& on_subscribed,
                                                  Status* error) {
  auto conn = detail::open_context(options_);
  if (!conn.is_ok()) {
    *error = conn.status();
    return conn.status().code() == Code::kUnavailable ? Outcome::kConnectionLost
                                                      : Outcome::kRefused;
  }
  redisContext* c = conn->get();
  if (!channels.empty()) {
    std::vector<std::string_view> args = {"SUBSCRIBE"};
    args.insert(args.end(), channels.begin(), channels.end());
    detail::append(c, args);
  }
  if (!patterns.empty()) {
    std::vector<std::string_view> args = {"PSUBSCRIBE"};
    args.insert(args.end(), patterns.begin(), patterns.end());
    detail::append(c, args);
  }
  if (!flush_output(c)) {
    *error = detail::status_from_context(c, options_);
    return Outcome::kConnectionLost;
  }
  const size_t expected = channels.size() + patterns.size();
  size_t confirmed = 0;
  while (!stopped_.load()) {
    pollfd fds[2] = {{c->fd, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    int n = ::poll(fds, wake_fds_[0] >= 0 ? 2 : 1, wake_fds_[0] >= 0 ? -1 : 100);
    if (n < 0 && errno != EINTR) {
      *error = Status::unavailable("redis subscriber: poll failed");
      return Outcome::kConnectionLost;
    }
    if (n <= 0 || fds[1].revents) continue;  // timeout / EINTR / stop: re-check the flag
    if (redisBufferRead(c) != REDIS_OK) {
      *error = detail::status_from_context(c, options_);
      return Outcome::kConnectionLost;
    }
    for (;;) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
        *error = detail::status_from_context(c, options_);
        return Outcome::kConnectionLost;
      }
      if (raw == nullptr) break;
      std::unique_ptr<redisReply, void (*)(void*)> r(static_cast<redisReply*>(raw),
                                                     freeReplyObject);
      if (r->type == REDIS_REPLY_ERROR) {
        *error = detail::status_from_error(std::string_view(r->str, r->len));
        return Outcome::kRefused;
      }
      if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) continue;
      const std::string kind = element_str(r.get(), 0);
      if (kind == "subscribe" || kind == "psubscribe") {
        if (++confirmed == expected && on_subscribed) {
          try {
            on_subscribed();
          } catch (const std::exception& e) {
            common::log_error("redis subscriber: on_subscribed threw: ", e.what());
          }
        }
        continue;
      }
      PubSubMessage m;
      if (kind == "message") {
        m.channel = element_str(r.get(), 1);
        m.payload = element_str(r.get(), 2);
      } else if (kind == "pmessage" && r->elements >= 4) {
        m.pattern = element_str(r.get(), 1);
        m.channel = element_str(r.get(), 2);
        m.payload = element_str(r.get(), 3);
      } else {
        continue;
      }
      try {
        on_message(m);
      } catch (const std::exception& e) {
        common::log_error("redis subscriber: the handler for ", m.channel, " threw: ", e.what());
      }
    }
  }
  return Outcome::kStopped;
}

}  // namespace scn::redis
