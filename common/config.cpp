#include "common/config.h"

#include <boost/program_options.hpp>
#include <iostream>
#include <sstream>

#include "common/log.h"

namespace scn::common {

namespace po = boost::program_options;

struct OptionSet::Impl {
  std::string command;
  std::string summary;
  po::options_description visible{"Options"};
  po::options_description hidden;
  po::positional_options_description positional;
  std::vector<std::pair<std::string, std::string>> positional_help;  // name, help
  std::vector<std::string> long_names;  // options that may come from the environment
  std::vector<std::string> required;
  po::variables_map vm;
  std::string log_level = "";

  static std::string long_of(const std::string& name) { return name.substr(0, name.find(',')); }

  std::string help_with_env(const std::string& name, const std::string& help) const {
    return help + " [env " + env_name(long_of(name)) + "]";
  }

  template <typename T>
  void add_value(const std::string& name, T* out, const std::string& help, bool show_default) {
    auto* sem = po::value<T>(out);
    if (show_default) {
      std::ostringstream text;  // 0.8, not 0.80000000000000004
      text << *out;
      sem->default_value(*out, text.str());
    }
    visible.add_options()(name.c_str(), sem, help_with_env(name, help).c_str());
    long_names.push_back(long_of(name));
  }
};

OptionSet::OptionSet(std::string command, std::string summary) : impl_(std::make_unique<Impl>()) {
  impl_->command = std::move(command);
  impl_->summary = std::move(summary);
  impl_->visible.add_options()("help,h", "print this help");
}

OptionSet::~OptionSet() = default;

std::string OptionSet::env_name(std::string_view long_name) {
  std::string env = "SCN_";
  for (char c : long_name) {
    if (c == '-') env += '_';
    else if (c >= 'a' && c <= 'z') env += static_cast<char>(c - 'a' + 'A');
    else env += c;
  }
  return env;
}

OptionSet& OptionSet::add(const std::string& name, std::string* out, const std::string& help) {
  impl_->add_value(name, out, help, !out->empty());
  return *this;
}
OptionSet& OptionSet::add(const std::string& name, int* out, const std::string& help) {
  impl_->add_value(name, out, help, true);
  return *this;
}
OptionSet& OptionSet::add(const std::string& name, std::int64_t* out, const std::string& help) {
  impl_->add_value(name, out, help, true);
  return *this;
}
OptionSet& OptionSet::add(const std::string& name, double* out, const std::string& help) {
  impl_->add_value(name, out, help, true);
  return *this;
}
OptionSet& OptionSet::add(const std::string& name, std::vector<std::string>* out,
                          const std::string& help) {
  impl_->visible.add_options()(name.c_str(), po::value<std::vector<std::string>>(out)->composing(),
                               impl_->help_with_env(name, help + " (repeatable)").c_str());
  impl_->long_names.push_back(Impl::long_of(name));
  return *this;
}

OptionSet& OptionSet::flag(const std::string& name, bool* out, const std::string& help) {
  impl_->visible.add_options()(
      name.c_str(),
      po::value<bool>(out)
          ->default_value(*out, *out ? "true" : "false")
          ->implicit_value(true, "true")
          ->value_name("bool"),
      impl_->help_with_env(name, help).c_str());
  impl_->long_names.push_back(Impl::long_of(name));
  return *this;
}

OptionSet& OptionSet::require(const std::string& name) {
  impl_->required.push_back(Impl::long_of(name));
  return *this;
}

OptionSet& OptionSet::positional(const std::string& name, std::string* out, const std::string& help,
                                 bool required) {
  impl_->hidden.add_options()(name.c_str(), po::value<std::string>(out), help.c_str());
  impl_->positional.add(name.c_str(), 1);
  impl_->positional_help.emplace_back(name, help);
  if (required) impl_->required.push_back(name);
  return *this;
}

OptionSet& OptionSet::log_level_option() {
  impl_->log_level = std::string(log_level_name(log_level()));
  impl_->add_value("log-level", &impl_->log_level, "debug, info, warn, error or off", true);
  return *this;
}

std::string OptionSet::help() const {
  std::ostringstream out;
  out << "usage: " << impl_->command << " [options]";
  for (std::size_t i = 0; i < impl_->positional_help.size(); ++i) {
    const auto& name = impl_->positional_help[i].first;
    bool req = std::find(impl_->required.begin(), impl_->required.end(), name) != impl_->required.end();
    out << (req ? " <" : " [") << name << (req ? ">" : "]");
  }
  out << "\n\n" << impl_->summary << "\n";
  if (!impl_->positional_help.empty()) {
    out << "\nArguments:\n";
    for (const auto& [name, help] : impl_->positional_help) out << "  " << name << "\t" << help << "\n";
  }
  out << "\n" << impl_->visible;
  return out.str();
}

bool OptionSet::given(const std::string& long_name) const {
  auto it = impl_->vm.find(long_name);
  return it != impl_->vm.end() && !it->second.defaulted();
}

Result<OptionSet::Outcome> OptionSet::parse(int argc, const char* const* argv) {
  Impl& s = *impl_;
  std::string context = s.command + ": ";
  try {
    po::options_description all;
    all.add(s.visible).add(s.hidden);
    s.vm.clear();
    // The command line first: values stored first win over the environment.
    po::store(po::command_line_parser(argc, argv).options(all).positional(s.positional).run(), s.vm);
    if (s.vm.count("help")) {
      std::cout << help();
      return Outcome::kHelp;
    }
    po::store(po::parse_environment(all,
                                    [&s](const std::string& env) -> std::string {
                                      for (const auto& n : s.long_names)
                                        if (env == env_name(n)) return n;
                                      return "";
                                    }),
              s.vm);
    for (const auto& name : s.required) {
      if (!s.vm.count(name) || s.vm[name].defaulted()) {
        bool is_positional = std::any_of(s.positional_help.begin(), s.positional_help.end(),
                                         [&](const auto& p) { return p.first == name; });
        if (is_positional) return Status::invalid_argument(context + "missing argument <" + name + ">");
        return Status::invalid_argument(context + "the option '--" + name +
                                        "' is required (or set " + env_name(name) + ")");
      }
    }
    po::notify(s.vm);
  } catch (const po::error& e) {
    return Status::invalid_argument(context + e.what() + " (see --help)");
  } catch (const std::exception& e) {
    return Status::invalid_argument(context + e.what());
  }
  if (!s.log_level.empty()) {
    auto level = parse_log_level(s.log_level);
    if (!level) {
      return Status::invalid_argument(context + "unknown log level '" + s.log_level +
                                      "' (debug, info, warn, error, off)");
    }
    set_log_level(*level);
  }
  return Outcome::kRun;
}

}  // namespace scn::common
