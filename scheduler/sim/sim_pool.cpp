#include "scheduler/sim/sim_pool.h"

#include <cstdio>

#include "catalog/model_card.h"
#include "catalog/quantization.h"
#include "scheduler/assignment.h"

namespace scn::scheduler::sim {
namespace {

constexpr const char* kProvinces[] = {
    "beijing", "tianjin", "hebei", "shanxi", "inner-mongolia", "liaoning", "jilin", "heilongjiang",
    "shanghai", "jiangsu", "zhejiang", "anhui", "fujian", "jiangxi", "shandong", "henan",
    "hubei", "hunan", "guangdong", "guangxi", "hainan", "chongqing", "sichuan", "guizhou",
    "yunnan", "tibet", "shaanxi", "gansu", "qinghai", "ningxia", "xinjiang"};
constexpr int kProvinceCount = sizeof(kProvinces) / sizeof(kProvinces[0]);

struct KnownGpu {
  const char* name;
  uint64_t memory;
};
constexpr KnownGpu kKnownGpus[] = {{"H200", 141'000'000'000ull},
                                   {"H100", 80 * kGiB},
                                   {"A100-80G", 80 * kGiB},
                                   {"Ascend-910B", 64 * kGiB},
                                   {"L40S", 48 * kGiB}};

}  // namespace

const char* province(int i) { return kProvinces[i % kProvinceCount]; }

Result<std::vector<GpuModel>> parse_gpu_mix(const std::string& text) {
  std::vector<GpuModel> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string entry = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (entry.empty()) continue;
    const size_t colon = entry.find(':');
    const std::string name = entry.substr(0, colon);
    uint32_t weight = 1;
    if (colon != std::string::npos) {
      const std::string w = entry.substr(colon + 1);
      if (w.empty() || w.size() > 6 || w.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(w) == 0) {
        return Status::invalid_argument("--gpu-mix entry '" + entry + "': weight must be an integer >= 1");
      }
      weight = static_cast<uint32_t>(std::stoul(w));
    }
    const KnownGpu* known = nullptr;
    for (const KnownGpu& k : kKnownGpus) {
      if (fold_case(k.name) == fold_case(name)) known = &k;
    }
    if (known == nullptr) {
      return Status::invalid_argument("--gpu-mix entry '" + entry +
                                      "': unknown GPU (known: H200, H100, A100-80G, Ascend-910B, L40S)");
    }
    out.push_back({known->name, known->memory, weight});
  }
  if (out.empty()) return Status::invalid_argument("--gpu-mix names no GPU");
  return out;
}

Snapshot make_national_pool(int centers, int nodes_per_center, const std::vector<GpuModel>& mix, Rng& rng,
                            const std::vector<std::string>& model_keys) {
  Snapshot snap;
  uint32_t total_weight = 0;
  for (const GpuModel& g : mix) total_weight += g.weight;
  for (int c = 0; c < centers; ++c) {
    Center center;
    char id[32];
    std::snprintf(id, sizeof id, "center-%03d", c);
    center.id = id;
    center.name = std::string(province(c)) + "-" + std::to_string(c / kProvinceCount + 1);
    center.region = province(c);
    center.price_gpu_hour = 8.0 + 2.0 * rng.below(9);
    center.price_cpu_core_hour = 0.05 + 0.01 * rng.below(6);
    (void)snap.add_center(std::move(center));
  }
  int64_t device = 1;
  for (int c = 0; c < centers; ++c) {
    const bool cpu_only = c % 6 == 5;
    for (int k = 0; k < nodes_per_center; ++k) {
      Node n;
      char id[40];
      std::snprintf(id, sizeof id, "c%03d-n%05d", c, k);
      n.id = id;
      n.name = id;
      n.center_id = snap.centers()[c].id;
      n.simulated = true;
      n.labels["simulated"] = "true";
      n.cpu_device_id = device++;
      if (cpu_only) {
        n.cpu_cores = n.free_cpu_cores = 96;
        n.ram_bytes = n.free_ram_bytes = 512 * kGiB;
      } else {
        n.cpu_cores = n.free_cpu_cores = 128;
        n.ram_bytes = n.free_ram_bytes = 1024 * kGiB;
        uint32_t pick = rng.below(total_weight);
        const GpuModel* model = &mix.front();
        for (const GpuModel& g : mix) {
          if (pick < g.weight) {
            model = &g;
            break;
          }
          pick -= g.weight;
        }
        const int64_t gpu_device = device++;
        for (int g = 0; g < 8; ++g) {
          n.gpus.push_back({.free_bytes = model->memory_bytes,
                            .memory_bytes = model->memory_bytes,
                            .index = g,
                            .device_id = gpu_device,
                            .model = model->name});
        }
      }
      if (!model_keys.empty()) {
        for (int m = 0; m < 2; ++m) n.models.push_back(model_keys[rng.below(static_cast<uint32_t>(model_keys.size()))]);
      }
      (void)snap.add_node(std::move(n));
    }
  }
  return snap;
}

std::vector<SimModel> sim_models(const catalog::Catalog& catalog) {
  std::vector<SimModel> out;
  for (const catalog::ModelCard& card : catalog.models) {
    for (const catalog::ModelFile& file : card.files) {
      const catalog::Requirements r = catalog::requirements(card, file);
      if (r.weight_bytes <= 0 || r.context_length <= 0) continue;
      SimModel m;
      m.key = card.name + "/" + std::string(catalog::quant_name(file.quantization));
      m.weight_bytes = static_cast<uint64_t>(r.weight_bytes);
      m.kv_bytes_per_token = static_cast<uint64_t>(std::max<int64_t>(0, r.kv_bytes_per_token));
      m.max_context = static_cast<uint32_t>(std::min<int64_t>(r.context_length, 1 << 30));
      out.push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace scn::scheduler::sim
