import { describe, expect, it } from 'vitest';
import {
  billUrl, fenToString, formatMoney, isMonth, priceBody, routeParts, shiftMonth, toFen, totalsByTenant, utcMonth,
  type BillLine, type RequestRow,
} from './billing';

const line = (tenant: string, amount: string): BillLine => ({
  tenant_id: tenant, tenant_name: tenant, service_id: 's', service_name: 's', model: 'm', center_id: null, center_name: null,
  requests: 1, prompt_tokens: 1, cached_prompt_tokens: 0, completion_tokens: 1, replica_hours: '0',
  prices: { prompt_per_million: '0', cached_prompt_per_million: '0', completion_per_million: '0', replica_hour: '0' }, amount,
});

describe('months', () => {
  it.each([
    ['2026-11', 1, '2026-12'],
    ['2026-12', 1, '2027-01'],
    ['2026-01', -1, '2025-12'],
    ['2026-03', -14, '2025-01'],
  ])('shiftMonth(%s, %d) = %s', (m, d, want) => expect(shiftMonth(m, d)).toBe(want));
  it('takes the UTC month', () => expect(utcMonth(new Date('2026-11-30T23:30:00-05:00'))).toBe('2026-12'));
  it.each([['2026-11', true], ['2026-13', false], ['2026-1', false], ['', false]])('isMonth(%s) = %s', (m, ok) =>
    expect(isMonth(m)).toBe(ok));
});

describe('money', () => {
  it('formats CNY per locale', () => {
    expect(formatMoney('19.08', 'en-US')).toBe('CN¥19.08');
    expect(formatMoney('1234567.5', 'zh-CN')).toBe('¥1,234,567.50');
    expect(formatMoney('0.000001', 'en-US', 6)).toBe('CN¥0.000001');
  });
  it('keeps decimal strings exact', () => expect(formatMoney('90071992547409.93', 'en-US')).toBe('CN¥90,071,992,547,409.93'));
  it('shows what it cannot parse as is', () => expect(formatMoney('n/a', 'en-US')).toBe('n/a'));
  it.each([['19.08', 1908], ['0.5', 50], ['12', 1200], ['-1.01', -101], ['x', 0]])('toFen(%s) = %d', (s, f) =>
    expect(toFen(s)).toBe(f));
  it('sums per tenant in fen, biggest first', () => {
    const t = totalsByTenant([line('a', '0.10'), line('b', '5'), line('a', '0.20')]);
    expect(t.map((x) => [x.tenant_id, fenToString(x.amount_fen), x.lines])).toEqual([['b', '5.00', 1], ['a', '0.30', 2]]);
  });
});

describe('urls and bodies', () => {
  it('builds bill URLs', () => {
    expect(billUrl('2026-11', '')).toBe('/api/v1/bills?month=2026-11');
    expect(billUrl('2026-11', 't1', 'csv')).toBe('/api/v1/bills?month=2026-11&tenant_id=t1&format=csv');
  });
  it('builds a price body with only the prices given', () => {
    expect(priceBody({ model: ' ', center_id: '', prompt_per_million: '1.5', cached_prompt_per_million: '', completion_per_million: '2', replica_hour: '' }))
      .toEqual({ model: '*', prompt_per_million: '1.5', completion_per_million: '2' });
    expect(priceBody({ model: 'stories260k', center_id: 'c', prompt_per_million: '', cached_prompt_per_million: '', completion_per_million: '', replica_hour: '0.8' }))
      .toEqual({ model: 'stories260k', center_id: 'c', replica_hour: '0.8' });
  });
  it('names a request route by center and node', () => {
    const r = { route: { replica_id: 'aaaaaaaa-1', node_id: 'n1', center_id: 'c1', url: null } } as unknown as RequestRow;
    expect(routeParts(r, { centers: { c1: 'bj-gpu' }, nodes: {} })).toEqual({ center: 'bj-gpu', node: 'n1', replica: 'aaaaaaaa' });
    const none = { route: { replica_id: null, node_id: null, center_id: null, url: null } } as unknown as RequestRow;
    expect(routeParts(none, { centers: {}, nodes: {} })).toBeNull();
  });
});
