import { describe, expect, it } from 'vitest';
import { auditUrl, emptyAuditFilter } from './audit';

describe('auditUrl', () => {
  const table: [string, Partial<typeof emptyAuditFilter>, number | undefined, string][] = [
    ['no filter', {}, undefined, '/api/v1/audit?limit=200'],
    ['paging', {}, 42, '/api/v1/audit?limit=200&before_id=42'],
    [
      'every filter, trimmed and encoded',
      { action: ' api_key. ', target_kind: 'api_key', outcome: 'denied', actor: 'li wei&co' },
      7,
      '/api/v1/audit?limit=200&before_id=7&action=api_key.&target_kind=api_key&outcome=denied&actor=li+wei%26co',
    ],
    ['blank fields are left out', { action: '  ', outcome: 'failed' }, undefined, '/api/v1/audit?limit=200&outcome=failed'],
  ];
  for (const [what, f, before, url] of table) {
    it(what, () => expect(auditUrl({ ...emptyAuditFilter, ...f }, 200, before)).toBe(url));
  }
});
