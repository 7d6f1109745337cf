// Pure helpers of the audit page (tested in audit.test.ts).

/** The server-side filters of GET /api/v1/audit; an empty field does not filter. */
export interface AuditFilter {
  /** Prefix of the action ("api_key." lists every api_key action). */
  action: string;
  target_kind: string;
  /** '' | 'ok' | 'denied' | 'failed' */
  outcome: string;
  /** The actor's name, exactly. */
  actor: string;
}
export const emptyAuditFilter: AuditFilter = { action: '', target_kind: '', outcome: '', actor: '' };
export const auditOutcomes = ['ok', 'denied', 'failed'] as const;

/** The URL of one page of the audit log: `limit` rows older than `before` (if given) that pass `f`. */
export function auditUrl(f: AuditFilter, limit: number, before?: number): string {
  const q = new URLSearchParams({ limit: String(limit) });
  if (before) q.set('before_id', String(before));
  for (const key of ['action', 'target_kind', 'outcome', 'actor'] as const) {
    const v = f[key].trim();
    if (v) q.set(key, v);
  }
  return `/api/v1/audit?${q.toString()}`;
}
