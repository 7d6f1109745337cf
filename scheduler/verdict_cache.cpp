#include "scheduler/verdict_cache.h"

#include <cstring>
#include <functional>

namespace scn::scheduler {
namespace {

void put_u64(std::string& out, uint64_t v) {
  char buf[sizeof v];
  std::memcpy(buf, &v, sizeof v);
  out.append(buf, sizeof v);
}

void put_str(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

void put_list(std::string& out, const std::vector<std::string>& list) {
  put_u64(out, list.size());
  for (const std::string& s : list) put_str(out, s);
}

}  // namespace

std::string shape_key(const ReplicaRequest& r) {
  std::string k;
  k.reserve(128);
  put_str(k, r.tenant_id);
  put_str(k, r.model.model_key);
  put_u64(k, r.model.weight_bytes);
  put_u64(k, r.model.kv_bytes_per_token);
  put_u64(k, r.model.context_tokens);
  k.push_back(static_cast<char>(r.device_kind));
  put_list(k, r.device_models);
  put_list(k, r.allowed_regions);
  k.push_back(r.price_cap_per_hour ? 1 : 0);
  if (r.price_cap_per_hour) {
    uint64_t bits;
    std::memcpy(&bits, &*r.price_cap_per_hour, sizeof bits);
    put_u64(k, bits);
  }
  put_u64(k, static_cast<uint64_t>(static_cast<int64_t>(r.cpu_cores)));
  put_u64(k, static_cast<uint64_t>(static_cast<int64_t>(r.gpu_host_cores)));
  put_list(k, r.tolerations);
  return k;
}

VerdictCache& VerdictCache::local() {
  thread_local VerdictCache cache;
  return cache;
}

VerdictEntry* VerdictCache::find(uint64_t framework, const Snapshot& snapshot, const std::string& shape) {
  const size_t hash = std::hash<std::string>{}(shape);
  for (size_t i = 0; i < entries_.size(); ++i) {
    VerdictEntry& e = entries_[i];
    if (e.shape_hash != hash || e.framework != framework || e.snapshot != snapshot.uid() || e.shape != shape) {
      continue;
    }
    if (e.structure != snapshot.structure_version() || e.verdict.size() != snapshot.nodes().size() ||
        !snapshot.changes_since(e.position)) {
      entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
      return nullptr;
    }
    e.used = ++clock_;
    return &e;
  }
  return nullptr;
}

VerdictEntry& VerdictCache::insert(uint64_t framework, const Snapshot& snapshot, std::string shape,
                                   size_t verdicts) {
  const size_t hash = std::hash<std::string>{}(shape);
  VerdictEntry* slot = nullptr;
  for (VerdictEntry& e : entries_) {
    if (e.shape_hash == hash && e.framework == framework && e.snapshot == snapshot.uid() && e.shape == shape) {
      slot = &e;
    }
  }
  if (slot == nullptr && entries_.size() < kMaxEntries) slot = &entries_.emplace_back();
  if (slot == nullptr) {
    slot = &entries_.front();
    for (VerdictEntry& e : entries_) {
      if (e.used < slot->used) slot = &e;
    }
  }
  slot->framework = framework;
  slot->snapshot = snapshot.uid();
  slot->structure = snapshot.structure_version();
  slot->position = snapshot.change_position();
  slot->shape = std::move(shape);
  slot->shape_hash = hash;
  slot->verdict.assign(snapshot.nodes().size(), 0);
  slot->count.assign(verdicts, 0);
  slot->used = ++clock_;
  return *slot;
}

}  // namespace scn::scheduler
