#include "node-agent/capacity.h"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

namespace scn::node_agent {
namespace {

std::string read_proc(const char* path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_positive(std::string_view s, std::int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out > 0;
}

Result<Device> parse_entry(std::string_view entry) {
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("--simulate: bad entry '" + std::string(entry) + "': " + why +
                                    " (expected <count>x<model>-<memory>G|M, e.g. 8xH200-141G)");
  };
  size_t x = entry.find('x');
  if (x == std::string_view::npos) return bad("no 'x' after the count");
  std::int64_t count = 0;
  if (!parse_positive(entry.substr(0, x), &count)) return bad("the count must be a positive integer");
  if (count > 1024) return bad("more than 1024 devices");
  std::string_view rest = entry.substr(x + 1);
  size_t dash = rest.rfind('-');
  if (dash == std::string_view::npos) return bad("no '-<memory>' after the model");
  std::string_view model = rest.substr(0, dash);
  std::string_view mem = rest.substr(dash + 1);
  if (model.empty()) return bad("empty model");
  for (char c : model) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return bad("the model may only hold letters, digits, '-', '_' and '.'");
    }
  }
  if (mem.size() < 2) return bad("the memory needs a number and a unit G or M");
  char unit = mem.back();
  std::int64_t amount = 0;
  if (!parse_positive(mem.substr(0, mem.size() - 1), &amount)) {
    return bad("the memory must be a positive integer followed by G or M");
  }
  std::int64_t scale = 0;
  if (unit == 'G') scale = std::int64_t{1} << 30;
  else if (unit == 'M') scale = std::int64_t{1} << 20;
  else return bad("the memory unit must be G (GiB) or M (MiB)");
  if (amount > (std::int64_t{1} << 20)) return bad("memory too large");
  return Device{"gpu", std::string(model), amount * scale, static_cast<int>(count)};
}

}  // namespace

std::vector<Device> group_gpus(const std::vector<inference::GpuInfo>& gpus) {
  std::vector<Device> out;
  for (const auto& g : gpus) {
    const std::string cc = std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor);
    const std::string model = g.name.empty() ? "NVIDIA GPU" : g.name.substr(0, 200);
    const auto memory = static_cast<std::int64_t>(g.memory_total);
    bool merged = false;
    for (auto& d : out)
      if (d.model == model && d.memory_bytes == memory && d.compute_capability == cc) {
        ++d.count;
        merged = true;
        break;
      }
    if (!merged) out.push_back(Device{"gpu", model, memory, 1, cc});
  }
  return out;
}

std::vector<Device> Capacity::devices() const {
  std::vector<Device> out;
  out.push_back(Device{"cpu", cpu_model.empty() ? "cpu" : cpu_model, ram_bytes, cpu_cores});
  out.insert(out.end(), gpus.begin(), gpus.end());
  return out;
}

Result<std::vector<Device>> parse_simulate_spec(std::string_view spec) {
  std::vector<Device> out;
  if (trim(spec).empty()) return Status::invalid_argument("--simulate: empty spec");
  size_t begin = 0;
  while (begin <= spec.size()) {
    size_t end = spec.find(',', begin);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view entry = trim(spec.substr(begin, end - begin));
    if (entry.empty()) return Status::invalid_argument("--simulate: empty entry in '" + std::string(spec) + "'");
    SCN_ASSIGN_OR_RETURN(Device d, parse_entry(entry));
    bool merged = false;
    for (auto& o : out) {
      if (o.model == d.model && o.memory_bytes == d.memory_bytes) {
        o.count += d.count;
        merged = true;
      }
    }
    if (!merged) out.push_back(std::move(d));
    begin = end + 1;
  }
  return out;
}

std::int64_t parse_meminfo_bytes(std::string_view meminfo, std::string_view key) {
  size_t pos = 0;
  while (pos < meminfo.size()) {
    size_t eol = meminfo.find('\n', pos);
    if (eol == std::string_view::npos) eol = meminfo.size();
    std::string_view line = meminfo.substr(pos, eol - pos);
    pos = eol + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || line.substr(0, colon) != key) continue;
    std::string_view value = trim(line.substr(colon + 1));
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || n < 0) return -1;
    std::string_view unit = trim(std::string_view(p, value.data() + value.size() - p));
    if (unit == "kB") return n * 1024;
    if (unit.empty()) return n;
    return -1;
  }
  return -1;
}

std::string parse_cpu_model(std::string_view cpuinfo) {
  size_t pos = 0;
  while (pos < cpuinfo.size()) {
    size_t eol = cpuinfo.find('\n', pos);
    if (eol == std::string_view::npos) eol = cpuinfo.size();
    std::string_view line = cpuinfo.substr(pos, eol - pos);
    pos = eol + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (trim(line.substr(0, colon)) == "model name") return std::string(trim(line.substr(colon + 1)));
  }
  return {};
}

std::int64_t available_ram_bytes() {
  std::int64_t v = parse_meminfo_bytes(read_proc("/proc/meminfo"), "MemAvailable");
  return v < 0 ? 0 : v;
}

Result<Capacity> probe_capacity(std::string_view simulate_spec) {
  Capacity cap;
  long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  cap.cpu_cores = cores > 0 ? static_cast<int>(cores) : 1;
  cap.ram_bytes = parse_meminfo_bytes(read_proc("/proc/meminfo"), "MemTotal");
  if (cap.ram_bytes <= 0) return Status::io_error("cannot read MemTotal from /proc/meminfo");
  cap.cpu_model = parse_cpu_model(read_proc("/proc/cpuinfo"));
  if (cap.cpu_model.empty()) cap.cpu_model = "cpu";
  if (!trim(simulate_spec).empty()) {
    SCN_ASSIGN_OR_RETURN(cap.gpus, parse_simulate_spec(simulate_spec));
    cap.simulated = true;
    cap.gpu_probe = "simulated GPUs from --simulate";
    return cap;
  }
  auto gpus = inference::list_gpus();
  if (gpus.is_ok()) {
    cap.gpus = group_gpus(*gpus);
    cap.gpu_probe = std::to_string(gpus->size()) + " GPU(s) listed by the CUDA runtime";
  } else {
    cap.gpu_probe = "no GPUs: " + gpus.status().message();
  }
  return cap;
}

}  // namespace scn::node_agent
