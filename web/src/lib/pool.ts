// Aggregations of GET /api/v1/pool for the admin dashboard (tested in pool.test.ts).
import type { Pool, UsageRow } from './api';

export interface AccelTotal {
  key: string;
  kind: string;
  model: string;
  simulated: boolean;
  count: number;
  used_count: number;
  memory_bytes: number;
  used_memory_bytes: number;
}

/** Devices of all centers summed per (kind, model, simulated); GPUs before CPUs. */
export function byAccelerator(pool: Pool): AccelTotal[] {
  const m = new Map<string, AccelTotal>();
  for (const c of pool.centers)
    for (const d of c.devices) {
      const key = `${d.kind}|${d.model}|${d.simulated}`;
      const cur = m.get(key) ?? { key, kind: d.kind, model: d.model, simulated: d.simulated, count: 0, used_count: 0, memory_bytes: 0, used_memory_bytes: 0 };
      cur.count += d.count;
      cur.used_count += d.used_count;
      cur.memory_bytes += d.memory_bytes;
      cur.used_memory_bytes += d.used_memory_bytes;
      m.set(key, cur);
    }
  return [...m.values()].sort((a, b) => (a.kind === b.kind ? a.model.localeCompare(b.model) : a.kind === 'gpu' ? -1 : 1));
}

export function centerMemory(pool: Pool) {
  return pool.centers.map((c) => ({
    name: c.name,
    simulated: c.devices.some((d) => d.simulated),
    memory: c.devices.reduce((a, d) => a + d.memory_bytes, 0),
    used: c.devices.reduce((a, d) => a + d.used_memory_bytes, 0),
    lost: c.nodes.lost ?? 0,
  }));
}

export interface RatePoint {
  at: number;
  requests_per_s: number;
  tokens_per_s: number;
}

/** Totals of a usage answer. */
export function usageTotals(rows: UsageRow[]): { requests: number; tokens: number } {
  return rows.reduce((a, r) => ({ requests: a.requests + r.requests, tokens: a.tokens + r.prompt_tokens + r.completion_tokens }), { requests: 0, tokens: 0 });
}

/** The rate between two samples of the running totals (never negative). */
export function rateBetween(
  prev: { at: number; requests: number; tokens: number },
  cur: { at: number; requests: number; tokens: number },
): RatePoint | null {
  const dt = (cur.at - prev.at) / 1000;
  if (dt <= 0) return null;
  return {
    at: cur.at,
    requests_per_s: Math.max(0, (cur.requests - prev.requests) / dt),
    tokens_per_s: Math.max(0, (cur.tokens - prev.tokens) / dt),
  };
}
