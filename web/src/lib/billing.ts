// Prices, bills and the request log (docs/API.md "Requests, prices and
// bills"): types, money formatting of the broker's decimal strings, month
// helpers and the route label of a logged request (tested in billing.test.ts).

export interface PriceFields {
  prompt_per_million: string;
  cached_prompt_per_million: string;
  completion_per_million: string;
  replica_hour: string;
}
export interface Price extends PriceFields {
  id: string;
  model: string;
  center_id: string | null;
  center_name: string | null;
  currency: string;
  updated_at: string;
}
export interface BillLine {
  tenant_id: string;
  tenant_name: string;
  service_id: string;
  service_name: string;
  model: string;
  center_id: string | null;
  center_name: string | null;
  requests: number;
  prompt_tokens: number;
  cached_prompt_tokens: number;
  completion_tokens: number;
  replica_hours: string | number;
  prices: PriceFields;
  amount: string;
}
export interface Bill {
  month: string;
  currency: string;
  tenant_id: string | null;
  lines: BillLine[];
  total: string;
}
export interface RequestRow {
  id: number | string;
  request_id: string;
  tenant_id: string;
  api_key_id: string | null;
  service_id: string | null;
  service_name: string;
  model: string;
  path: string;
  stream: boolean;
  route: { replica_id: string | null; node_id: string | null; center_id: string | null; url: string | null };
  attempts: number;
  status: number;
  error: string | null;
  usage: { prompt_tokens: number; cached_prompt_tokens: number; completion_tokens: number };
  latency_ms: number;
  ttfb_ms: number | null;
  started_at: string;
}

/** The UTC month of `d` as YYYY-MM. */
export function utcMonth(d: Date): string {
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** YYYY-MM is a month the broker accepts. */
export function isMonth(s: string): boolean {
  return /^\d{4}-(0[1-9]|1[0-2])$/.test(s);
}

/** The month before or after YYYY-MM (`delta` months). */
export function shiftMonth(month: string, delta: number): string {
  const [y, m] = month.split('-').map(Number);
  const idx = y * 12 + (m - 1) + delta;
  return `${Math.floor(idx / 12)}-${String((idx % 12) + 1).padStart(2, '0')}`;
}

/**
 * Formats a decimal string (or number) of CNY for the locale without going
 * through a float when the engine formats strings exactly (Intl v3).
 */
export function formatMoney(value: string | number, locale: string, maxFraction = 2): string {
  const nf = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: 'CNY',
    minimumFractionDigits: 2,
    maximumFractionDigits: Math.max(2, maxFraction),
  });
  const s = typeof value === 'number' ? value : value.trim();
  if (typeof s === 'string' && !/^-?\d+(\.\d+)?$/.test(s)) return String(value);
  // Intl.NumberFormat.format takes a decimal string exactly (ES2023); the type
  // definitions only know numbers.
  return nf.format(s as unknown as number);
}

/** The URL of a bill (JSON or CSV). */
export function billUrl(month: string, tenantId: string, format: 'json' | 'csv' = 'json'): string {
  const q = new URLSearchParams({ month });
  if (tenantId) q.set('tenant_id', tenantId);
  if (format === 'csv') q.set('format', 'csv');
  return `/api/v1/bills?${q.toString()}`;
}

/** Sums of a bill's lines per tenant (the admin's overview), biggest first. */
export function totalsByTenant(lines: BillLine[]): { tenant_id: string; tenant_name: string; amount_fen: number; lines: number }[] {
  const m = new Map<string, { tenant_id: string; tenant_name: string; amount_fen: number; lines: number }>();
  for (const l of lines) {
    const cur = m.get(l.tenant_id) ?? { tenant_id: l.tenant_id, tenant_name: l.tenant_name, amount_fen: 0, lines: 0 };
    cur.amount_fen += toFen(l.amount);
    cur.lines += 1;
    m.set(l.tenant_id, cur);
  }
  return [...m.values()].sort((a, b) => b.amount_fen - a.amount_fen || a.tenant_name.localeCompare(b.tenant_name));
}

/** A decimal string of CNY with at most 2 fraction digits, in integer fen. */
export function toFen(amount: string): number {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(amount.trim());
  if (!m) return 0;
  const fen = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0') || 0);
  return m[1] ? -fen : fen;
}

/** "yuan.fen" for an integer number of fen. */
export function fenToString(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const a = Math.abs(fen);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

/** The parts of a request's route, for a "center / node / replica" label. */
export function routeParts(
  r: RequestRow,
  names: { centers: Record<string, string>; nodes: Record<string, string> },
): { center: string; node: string; replica: string } | null {
  if (!r.route || (!r.route.replica_id && !r.route.node_id && !r.route.center_id)) return null;
  const short = (id: string | null) => (id ? id.slice(0, 8) : '—');
  return {
    center: r.route.center_id ? names.centers[r.route.center_id] ?? short(r.route.center_id) : '—',
    node: r.route.node_id ? names.nodes[r.route.node_id] ?? short(r.route.node_id) : '—',
    replica: short(r.route.replica_id),
  };
}

/** Body of PUT /api/v1/prices from the form's strings; null fields omitted. */
export function priceBody(form: { model: string; center_id: string } & PriceFields): Record<string, unknown> {
  const body: Record<string, unknown> = { model: form.model.trim() || '*' };
  if (form.center_id) body.center_id = form.center_id;
  for (const k of ['prompt_per_million', 'cached_prompt_per_million', 'completion_per_million', 'replica_hour'] as const) {
    const v = form[k].trim();
    if (v) body[k] = v;
  }
  return body;
}
