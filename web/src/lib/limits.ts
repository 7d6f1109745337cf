// Rate limits and budgets (docs/API.md "Rate limits and budgets"): the form's
// strings to a PUT/PATCH body and back (tested in limits.test.ts).

export const LIMIT_FIELDS = ['requests_per_minute', 'tokens_per_minute', 'max_concurrent_requests', 'monthly_token_budget'] as const;
export type LimitField = (typeof LIMIT_FIELDS)[number];
export type Limits = Record<LimitField, number | null>;

export interface TenantLimits extends Limits {
  tenant_id: string;
  max_replicas: number;
  max_gpus: number | null;
  monthly_tokens_used: number | null;
}

/** Form strings: "" is unlimited (null). */
export type LimitsForm = Record<LimitField, string>;

export function limitsToForm(l: Partial<Limits> | null | undefined): LimitsForm {
  const out = {} as LimitsForm;
  for (const f of LIMIT_FIELDS) out[f] = l && l[f] !== null && l[f] !== undefined ? String(l[f]) : '';
  return out;
}

/**
 * The Limits body of a form: "" -> null (unlimited), else a whole number.
 * Returns the first field that is not a whole number >= 0 as `bad`.
 */
export function formToLimits(f: LimitsForm): { limits: Limits; bad: LimitField | null } {
  const limits = {} as Limits;
  let bad: LimitField | null = null;
  for (const k of LIMIT_FIELDS) {
    const s = (f[k] ?? '').trim();
    if (!s) {
      limits[k] = null;
      continue;
    }
    if (!/^\d+$/.test(s)) {
      bad = bad ?? k;
      limits[k] = null;
      continue;
    }
    limits[k] = Number(s);
  }
  return { limits, bad };
}

/** Service names typed comma separated -> the key's scope (null: every service). */
export function parseServices(s: string): string[] | null {
  const names = [...new Set(s.split(',').map((x) => x.trim()).filter(Boolean))];
  return names.length ? names : null;
}
