// Command-line options and environment variables, declared once per command
// (Boost.Program_options underneath).
//
// Contract:
//  - Each option is declared with a pointer to where its value goes; the
//    value at declaration time is the default. After a successful parse()
//    every pointer holds: the command-line value if given, else the value of
//    the environment variable SCN_<NAME> (upper case, '-' -> '_', e.g.
//    --n-ctx <- SCN_N_CTX) if set, else the default.
//  - parse() returns kHelp after printing help (for --help/-h) to stdout,
//    kRun otherwise; unknown options, bad values and missing required
//    options are kInvalidArgument errors whose message names the option (and
//    its environment variable) - never exceptions.
//  - Flags take no value on the command line (--verbose) but accept
//    --verbose=false; in the environment 1/true/yes/on and 0/false/no/off.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace scn::common {

class OptionSet {
 public:
  enum class Outcome { kRun, kHelp };

  // `command` as typed, e.g. "scn infer"; `summary` is one line for --help.
  OptionSet(std::string command, std::string summary);
  ~OptionSet();
  OptionSet(const OptionSet&) = delete;
  OptionSet& operator=(const OptionSet&) = delete;

  // `name` is the long name with an optional short one: "port,p".
  OptionSet& add(const std::string& name, std::string* out, const std::string& help);
  OptionSet& add(const std::string& name, int* out, const std::string& help);
  OptionSet& add(const std::string& name, std::int64_t* out, const std::string& help);
  OptionSet& add(const std::string& name, double* out, const std::string& help);
  // Repeatable on the command line (--stop a --stop b); one value from the environment.
  OptionSet& add(const std::string& name, std::vector<std::string>* out, const std::string& help);
  OptionSet& flag(const std::string& name, bool* out, const std::string& help);
  // Marks an option declared above as required (command line or environment).
  OptionSet& require(const std::string& name);
  // The next positional argument goes to `out` (positional ones have no
  // environment variable). Optional positionals keep their default.
  OptionSet& positional(const std::string& name, std::string* out, const std::string& help,
                        bool required = true);
  // Adds --log-level (environment SCN_LOG_LEVEL: debug, info, warn, error,
  // off); a successful parse() applies it to common/log.h.
  OptionSet& log_level_option();

  // argv[0] is the command's own name and is skipped.
  Result<Outcome> parse(int argc, const char* const* argv);
  Result<Outcome> parse(int argc, char** argv) {
    return parse(argc, const_cast<const char* const*>(argv));
  }

  // The --help text.
  std::string help() const;
  // True when the option came from the command line or the environment.
  bool given(const std::string& long_name) const;

  // "n-ctx" -> "SCN_N_CTX".
  static std::string env_name(std::string_view long_name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::common
