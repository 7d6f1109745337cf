import { describe, expect, it } from 'vitest';
import { en } from './en';
import { zh } from './zh';

const placeholders = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();

describe('dictionaries', () => {
  it('have identical keys', () => {
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
  });
  it('have the same placeholders per key', () => {
    for (const k of Object.keys(en) as (keyof typeof en)[]) expect([k, placeholders(zh[k])]).toEqual([k, placeholders(en[k])]);
  });
  it('have no empty labels', () => {
    for (const [k, v] of [...Object.entries(en), ...Object.entries(zh)]) expect([k, v.trim().length > 0]).toEqual([k, true]);
  });
});

// Product names, units and identifiers that stay as they are in Chinese.
const KEEP = new Set(['scn', 'API', 'GPU', 'CPU', 'OpenAI', 'URL', 'top_p', 'Shift', 'CSV', 'GiB', 'api_key.', 'Slurm']);
describe('Chinese labels', () => {
  it('have no English words (names and units excepted)', () => {
    const english = Object.entries(zh).flatMap(([k, v]) =>
      [...v.replace(/\{\w+\}/g, '').matchAll(/[A-Za-z][A-Za-z0-9_.-]*/g)].map((m) => m[0]).filter((w) => !KEEP.has(w)).map((w) => `${k}: ${w}`),
    );
    expect(english).toEqual([]);
  });
});
