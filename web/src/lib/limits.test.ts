import { describe, expect, it } from 'vitest';
import { formToLimits, limitsToForm, parseServices } from './limits';

describe('limits form', () => {
  it('round-trips, "" meaning unlimited', () => {
    const f = limitsToForm({ requests_per_minute: 60, tokens_per_minute: null, max_concurrent_requests: 2, monthly_token_budget: 0 });
    expect(f).toEqual({ requests_per_minute: '60', tokens_per_minute: '', max_concurrent_requests: '2', monthly_token_budget: '0' });
    expect(formToLimits(f)).toEqual({
      limits: { requests_per_minute: 60, tokens_per_minute: null, max_concurrent_requests: 2, monthly_token_budget: 0 },
      bad: null,
    });
  });
  it('names the first field that is no whole number', () => {
    expect(formToLimits({ requests_per_minute: '1.5', tokens_per_minute: '-1', max_concurrent_requests: '', monthly_token_budget: '' }).bad)
      .toBe('requests_per_minute');
  });
  it('parses a service scope', () => {
    expect(parseServices(' a, b ,a,, ')).toEqual(['a', 'b']);
    expect(parseServices('  ')).toBeNull();
  });
});
