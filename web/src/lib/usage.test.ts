import { describe, expect, it } from 'vitest';
import { totalsByDay, totalsByService, usageCsv } from './usage';
import type { UsageRow } from './api';

const rows: UsageRow[] = [
  { tenant_id: 't', service_id: 'a', service_name: 'svc, "a"', requests: 2, prompt_tokens: 10, completion_tokens: 5, day: '2026-11-27' },
  { tenant_id: 't', service_id: 'a', service_name: 'svc, "a"', requests: 1, prompt_tokens: 1, completion_tokens: 1, day: '2026-11-28' },
  { tenant_id: 't', service_id: 'b', service_name: 'b', requests: 3, prompt_tokens: 3, completion_tokens: 3, day: '2026-11-28' },
];

describe('usage', () => {
  it('sums per service', () => {
    const s = totalsByService(rows);
    expect(s.map((x) => [x.service_id, x.requests, x.prompt_tokens])).toEqual([
      ['b', 3, 3],
      ['a', 3, 11],
    ]);
  });
  it('sums per day', () => {
    expect(totalsByDay(rows)).toEqual([
      { day: '2026-11-27', requests: 2, tokens: 15 },
      { day: '2026-11-28', requests: 4, tokens: 8 },
    ]);
  });
  it('quotes CSV cells', () => {
    const csv = usageCsv(rows).split('\r\n');
    expect(csv[0]).toBe('day,tenant_id,service_id,service_name,requests,prompt_tokens,completion_tokens,total_tokens');
    expect(csv[1]).toBe('2026-11-27,t,a,"svc, ""a""",2,10,5,15');
  });
});
