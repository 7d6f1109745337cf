// Small files of `scn up` under <var>: up.json (ports), credentials.json
// (passwords and the demo API key, mode 0600), and log tails for messages.
//
// Contract:
//  - read_json_file() answers kNotFound for a missing file and
//    kInvalidArgument for one that is not a JSON object.
//  - write_json_file() writes a temporary file with `mode` and renames it
//    over `path`, so that a reader never sees half a file and a secret file
//    is never readable by others, not even for a moment.
//  - tail_file() answers the last `lines` lines ("" when unreadable).
//  - Credentials are loaded from and saved to credentials.json: passwords by
//    username, and the demo API key (id and secret). Loading a missing file
//    gives empty credentials; a broken one is an error (never overwritten
//    silently, as it holds the only copy of the secrets).
#pragma once

#include <boost/json/object.hpp>
#include <filesystem>
#include <map>
#include <string>

#include "common/status.h"

namespace scn::broker {

Result<boost::json::object> read_json_file(const std::filesystem::path& path);
Status write_json_file(const std::filesystem::path& path, const boost::json::object& value, unsigned mode);
std::string tail_file(const std::filesystem::path& path, int lines);

struct UpCredentials {
  std::map<std::string, std::string> passwords;  // username -> password
  std::string api_key_id;
  std::string api_key;  // the secret, shown once by the API

  static Result<UpCredentials> load(const std::filesystem::path& path);
  Status save(const std::filesystem::path& path) const;  // mode 0600
};

// A fresh password: 20 characters of base64url from OpenSSL's generator.
Result<std::string> new_password();

}  // namespace scn::broker
