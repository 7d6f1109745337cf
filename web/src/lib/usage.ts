// Usage aggregation and CSV (tested in usage.test.ts).
import type { UsageRow } from './api';

export interface ServiceTotal {
  service_id: string;
  service_name: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}

export function totalsByService(rows: UsageRow[]): ServiceTotal[] {
  const m = new Map<string, ServiceTotal>();
  for (const r of rows) {
    const cur = m.get(r.service_id) ?? { service_id: r.service_id, service_name: r.service_name, requests: 0, prompt_tokens: 0, completion_tokens: 0 };
    cur.requests += r.requests;
    cur.prompt_tokens += r.prompt_tokens;
    cur.completion_tokens += r.completion_tokens;
    m.set(r.service_id, cur);
  }
  return [...m.values()].sort((a, b) => a.service_name.localeCompare(b.service_name));
}

/** Per-day totals (rows carrying `day`), sorted by day. */
export function totalsByDay(rows: UsageRow[]): { day: string; requests: number; tokens: number }[] {
  const m = new Map<string, { day: string; requests: number; tokens: number }>();
  for (const r of rows) {
    if (!r.day) continue;
    const day = r.day.slice(0, 10);
    const cur = m.get(day) ?? { day, requests: 0, tokens: 0 };
    cur.requests += r.requests;
    cur.tokens += r.prompt_tokens + r.completion_tokens;
    m.set(day, cur);
  }
  return [...m.values()].sort((a, b) => a.day.localeCompare(b.day));
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function usageCsv(rows: UsageRow[]): string {
  const withDay = rows.some((r) => r.day);
  const head = [...(withDay ? ['day'] : []), 'tenant_id', 'service_id', 'service_name', 'requests', 'prompt_tokens', 'completion_tokens', 'total_tokens'];
  const lines = [head.join(',')];
  for (const r of rows) {
    lines.push(
      [...(withDay ? [r.day ?? ''] : []), r.tenant_id, r.service_id, r.service_name, r.requests, r.prompt_tokens, r.completion_tokens, r.prompt_tokens + r.completion_tokens]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
