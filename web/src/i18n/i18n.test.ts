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
