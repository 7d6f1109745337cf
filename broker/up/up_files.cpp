#include "broker/up/up_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

#include "common/crypto/crypto.h"
#include "common/json.h"

namespace scn::broker {

namespace fs = std::filesystem;

Result<boost::json::object> read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Status::not_found("cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  auto o = common::parse_json_object(ss.str());
  if (!o.is_ok()) return Status::invalid_argument(path.string() + ": " + o.status().message());
  return std::move(o).value();
}

Status write_json_file(const fs::path& path, const boost::json::object& value, unsigned mode) {
  const fs::path tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::io_error("create " + tmp.string() + ": " + std::strerror(errno));
  ::fchmod(fd, mode);  // also when the file existed with other bits
  const std::string text = boost::json::serialize(value) + "\n";
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::io_error("write " + tmp.string() + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::io_error("rename " + tmp.string() + ": " + std::strerror(errno));
  return Status::ok();
}

std::string tail_file(const fs::path& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += "  | " + l + "\n";
  return out;
}

Result<UpCredentials> UpCredentials::load(const fs::path& path) {
  UpCredentials c;
  std::error_code ec;
  if (!fs::exists(path, ec)) return c;
  SCN_ASSIGN_OR_RETURN(auto o, read_json_file(path));
  if (auto* p = o.if_contains("passwords"); p && p->is_object())
    for (const auto& [user, pw] : p->as_object())
      if (pw.is_string()) c.passwords[std::string(user)] = std::string(pw.as_string());
  if (auto* k = o.if_contains("api_key"); k && k->is_object()) {
    const auto& ko = k->as_object();
    if (auto* id = ko.if_contains("id"); id && id->is_string()) c.api_key_id = std::string(id->as_string());
    if (auto* s = ko.if_contains("key"); s && s->is_string()) c.api_key = std::string(s->as_string());
  }
  return c;
}

Status UpCredentials::save(const fs::path& path) const {
  boost::json::object o, pw;
  for (const auto& [user, password] : passwords) pw[user] = password;
  o["passwords"] = std::move(pw);
  if (!api_key.empty()) o["api_key"] = boost::json::object{{"id", api_key_id}, {"key", api_key}};
  return write_json_file(path, o, 0600);
}

Result<std::string> new_password() {
  SCN_ASSIGN_OR_RETURN(std::string s, crypto::new_secret("", 15));
  return s;
}

}  // namespace scn::broker
