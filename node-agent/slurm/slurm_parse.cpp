#include "node-agent/slurm/slurm_parse.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>

#include "common/json.h"

namespace scn::node_agent::slurm {
namespace json = boost::json;

namespace {

// Slurm's JSON mixes integers, nulls and (for some fields) numbers as
// strings; all read leniently with a fallback.
std::int64_t int_of(const json::object& o, std::string_view key, std::int64_t fallback = 0) {
  const json::value* v = o.if_contains(key);
  if (!v) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(std::min<std::uint64_t>(v->as_uint64(), INT64_MAX));
  if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
  if (v->is_object()) {  // {"set": true, "infinite": false, "number": N} in later versions
    const auto& n = v->as_object();
    if (const json::value* num = n.if_contains("number")) {
      if (num->is_int64()) return num->as_int64();
      if (num->is_uint64()) return static_cast<std::int64_t>(num->as_uint64());
    }
  }
  return fallback;
}

std::string str_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return {};
  return std::string(v->as_string());
}

std::vector<std::string> strings_of(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

Result<const json::array*> top_array(const json::object& o, std::string_view key, std::string_view what) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_array()) return Status::invalid_argument(std::string(what) + ": no '" + std::string(key) + "' array");
  return &v->as_array();
}

// A non-empty "errors" array: Slurm 22.05's JSON commands exit 0 with no
// data and an error entry when the controller cannot be reached.
Status json_errors(const json::object& doc, std::string_view what) {
  const json::value* v = doc.if_contains("errors");
  if (!v || !v->is_array() || v->as_array().empty()) return Status::ok();
  std::string msg;
  for (const auto& e : v->as_array()) {
    if (!e.is_object()) continue;
    std::string part = str_of(e.as_object(), "error");
    std::string desc = str_of(e.as_object(), "description");
    if (!desc.empty()) part += (part.empty() ? "" : ": ") + desc;
    msg += (msg.empty() ? "" : "; ") + part;
  }
  return Status::unavailable("Slurm controller unreachable: " + std::string(what) + " reported: " + msg);
}

bool parse_int(std::string_view s, std::int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::vector<SlurmGpu> parse_gres(std::string_view gres) {
  std::vector<SlurmGpu> out;
  size_t begin = 0;
  while (begin < gres.size()) {
    // Items are separated by commas outside parentheses ("gpu:2(IDX:0,1)").
    size_t end = begin;
    int depth = 0;
    while (end < gres.size() && (gres[end] != ',' || depth > 0)) {
      if (gres[end] == '(') ++depth;
      if (gres[end] == ')') --depth;
      ++end;
    }
    std::string_view item = gres.substr(begin, end - begin);
    begin = end + 1;
    if (size_t paren = item.find('('); paren != std::string_view::npos) item = item.substr(0, paren);
    std::vector<std::string_view> parts;
    size_t p = 0;
    while (true) {
      size_t colon = item.find(':', p);
      parts.push_back(item.substr(p, colon == std::string_view::npos ? std::string_view::npos : colon - p));
      if (colon == std::string_view::npos) break;
      p = colon + 1;
    }
    if (parts.empty() || parts[0] != "gpu") continue;
    SlurmGpu g;
    std::int64_t n = 0;
    if (parts.size() == 2 && parse_int(parts[1], &n)) {
      g.count = static_cast<int>(n);
    } else if (parts.size() >= 3 && parse_int(parts[2], &n)) {
      g.type = std::string(parts[1]);
      g.count = static_cast<int>(n);
    } else if (parts.size() == 2) {  // "gpu:a100": one of that type
      g.type = std::string(parts[1]);
      g.count = 1;
    } else {
      g.count = 1;
    }
    if (g.count > 0) out.push_back(std::move(g));
  }
  return out;
}

int count_gres_gpus(std::string_view gres) {
  int n = 0;
  for (const auto& g : parse_gres(gres)) n += g.count;
  return n;
}

Result<std::vector<SlurmNode>> parse_sinfo_json(std::string_view text) {
  auto doc = common::parse_json_object(text);
  if (!doc.is_ok()) return doc.status().with_context("sinfo --json");
  SCN_RETURN_IF_ERROR(json_errors(doc.value(), "sinfo --json"));
  SCN_ASSIGN_OR_RETURN(const json::array* nodes, top_array(doc.value(), "nodes", "sinfo --json"));
  std::vector<SlurmNode> out;
  for (const auto& v : *nodes) {
    if (!v.is_object()) return Status::invalid_argument("sinfo --json: a node is not an object");
    const auto& o = v.as_object();
    SlurmNode n;
    n.name = str_of(o, "name");
    if (n.name.empty()) return Status::invalid_argument("sinfo --json: a node without a name");
    n.address = str_of(o, "address");
    if (n.address.empty()) n.address = str_of(o, "hostname");
    if (n.address.empty()) n.address = n.name;
    n.cpus = static_cast<int>(int_of(o, "cpus"));
    n.alloc_cpus = static_cast<int>(int_of(o, "alloc_cpus"));
    n.real_memory_mb = int_of(o, "real_memory");
    n.alloc_memory_mb = int_of(o, "alloc_memory");
    n.gpus = parse_gres(str_of(o, "gres"));
    n.gpus_used = count_gres_gpus(str_of(o, "gres_used"));
    n.state_flags = strings_of(o, "state_flags");
    for (auto& f : n.state_flags) f = upper(f);
    // 22.05: "state" is a string; later versions give an array of flags.
    if (const json::value* s = o.if_contains("state"); s && s->is_string()) {
      n.state = lower(std::string(s->as_string()));
    } else if (s && s->is_array() && !s->as_array().empty() && s->as_array()[0].is_string()) {
      n.state = lower(std::string(s->as_array()[0].as_string()));
      for (size_t i = 1; i < s->as_array().size(); ++i) {
        if (s->as_array()[i].is_string()) n.state_flags.push_back(upper(std::string(s->as_array()[i].as_string())));
      }
    }
    if (n.state.empty()) n.state = "unknown";
    if (std::find(n.state_flags.begin(), n.state_flags.end(), "DRAIN") != n.state_flags.end()) {
      n.state = "drain";
    }
    n.reason = str_of(o, "reason");
    n.partitions = strings_of(o, "partitions");
    out.push_back(std::move(n));
  }
  return out;
}

Result<std::vector<SlurmJob>> parse_squeue_json(std::string_view text) {
  auto doc = common::parse_json_object(text);
  if (!doc.is_ok()) return doc.status().with_context("squeue --json");
  SCN_RETURN_IF_ERROR(json_errors(doc.value(), "squeue --json"));
  SCN_ASSIGN_OR_RETURN(const json::array* jobs, top_array(doc.value(), "jobs", "squeue --json"));
  std::vector<SlurmJob> out;
  for (const auto& v : *jobs) {
    if (!v.is_object()) return Status::invalid_argument("squeue --json: a job is not an object");
    const auto& o = v.as_object();
    SlurmJob j;
    j.job_id = int_of(o, "job_id");
    if (j.job_id <= 0) return Status::invalid_argument("squeue --json: a job without a job_id");
    j.name = str_of(o, "name");
    if (const json::value* s = o.if_contains("job_state"); s && s->is_string()) {
      j.state = upper(std::string(s->as_string()));
    } else if (s && s->is_array() && !s->as_array().empty() && s->as_array()[0].is_string()) {
      j.state = upper(std::string(s->as_array()[0].as_string()));
    }
    j.reason = str_of(o, "state_reason");
    j.nodes = str_of(o, "nodes");
    j.batch_host = str_of(o, "batch_host");
    j.partition = str_of(o, "partition");
    j.user = str_of(o, "user_name");
    j.cpus = static_cast<int>(int_of(o, "cpus"));
    j.memory_mb = int_of(o, "memory_per_node");
    j.time_limit_min = int_of(o, "time_limit");
    j.start_time = int_of(o, "start_time");
    j.end_time = int_of(o, "end_time");
    out.push_back(std::move(j));
  }
  return out;
}

Result<std::int64_t> parse_sbatch_parsable(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (size_t nl = text.rfind('\n'); nl != std::string_view::npos) text = text.substr(nl + 1);
  if (size_t semi = text.find(';'); semi != std::string_view::npos) text = text.substr(0, semi);
  std::int64_t id = 0;
  if (!parse_int(text, &id) || id <= 0) {
    return Status::invalid_argument("sbatch --parsable: expected a job id, got '" + std::string(text) + "'");
  }
  return id;
}

Result<std::string> parse_reservation_nodes(std::string_view text) {
  if (text.find("ReservationName=") == std::string_view::npos) {
    return Status::not_found("no reservation in: " + std::string(text.substr(0, 200)));
  }
  size_t at = text.find(" Nodes=");
  if (at == std::string_view::npos) return Status::invalid_argument("reservation without Nodes=");
  std::string_view rest = text.substr(at + 7);
  size_t end = rest.find_first_of(" \n");
  return std::string(rest.substr(0, end));
}

bool job_state_is_active(std::string_view state) {
  static constexpr std::string_view kActive[] = {"PENDING",  "CONFIGURING", "RUNNING",   "COMPLETING",
                                                  "SUSPENDED", "REQUEUED",   "RESIZING", "SIGNALING",
                                                  "STAGE_OUT", "REQUEUE_HOLD", "REQUEUE_FED"};
  return std::find(std::begin(kActive), std::end(kActive), state) != std::end(kActive);
}

bool controller_unreachable(std::string_view err) {
  static constexpr std::string_view kSigns[] = {
      "Unable to contact slurm controller", "Socket timed out", "Connection refused",
      "slurm_load_jobs error", "slurm_load_node error", "Slurm backup controller in standby mode",
      "Zero Bytes were transmitted", "Could not establish a configuration source",
      "Communication connection failure"};
  for (auto s : kSigns) {
    if (err.find(s) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace scn::node_agent::slurm
