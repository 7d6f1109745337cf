import { describe, expect, it } from 'vitest';
import { runSubmit } from './submit';

function recorder() {
  const log: string[] = [];
  return {
    log,
    setters: {
      setBusy: (k: string | null) => log.push(`busy=${k === null ? 'null' : JSON.stringify(k)}`),
      setError: (e: unknown) => log.push(`error=${e instanceof Error ? e.message : String(e)}`),
    },
  };
}

describe('runSubmit', () => {
  it('marks busy, clears the error, calls, then clears busy', async () => {
    const r = recorder();
    const ok = await runSubmit(r.setters, async () => {
      r.log.push('call');
    });
    expect(ok).toBe(true);
    expect(r.log).toEqual(['busy=""', 'error=null', 'call', 'busy=null']);
  });
  it('keeps the error of a failed call and resolves false', async () => {
    const r = recorder();
    const ok = await runSubmit(
      r.setters,
      async () => {
        throw new Error('409 conflict');
      },
      'row-1',
    );
    expect(ok).toBe(false);
    expect(r.log).toEqual(['busy="row-1"', 'error=null', 'error=409 conflict', 'busy=null']);
  });
});
