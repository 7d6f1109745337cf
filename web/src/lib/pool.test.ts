import { describe, expect, it } from 'vitest';
import { byAccelerator, centerMemory, rateBetween } from './pool';
import type { Pool } from './api';

const dev = (kind: string, model: string, simulated: boolean, count: number, used: number) => ({
  kind, model, simulated, count, used_count: used, memory_bytes: count * 10, used_memory_bytes: used * 10, free_memory_bytes: (count - used) * 10,
});
const pool: Pool = {
  centers: [
    { id: '1', name: 'a', region: 'r', nodes: { ready: 1, draining: 0, lost: 1 }, devices: [dev('gpu', 'H200', true, 8, 1), dev('cpu', 'Xeon', false, 4, 0)] },
    { id: '2', name: 'b', region: 'r', nodes: { ready: 1, draining: 0, lost: 0 }, devices: [dev('gpu', 'H200', true, 8, 2), dev('gpu', 'A100', true, 4, 0)] },
  ],
  services: {},
  replicas: {},
};

describe('pool', () => {
  it('sums per accelerator, GPUs first', () => {
    expect(byAccelerator(pool).map((a) => [a.model, a.count, a.used_count])).toEqual([
      ['A100', 4, 0],
      ['H200', 16, 3],
      ['Xeon', 4, 0],
    ]);
  });
  it('sums memory per center', () => {
    expect(centerMemory(pool)).toEqual([
      { name: 'a', simulated: true, memory: 120, used: 10, lost: 1 },
      { name: 'b', simulated: true, memory: 120, used: 20, lost: 0 },
    ]);
  });
  it('computes rates', () => {
    expect(rateBetween({ at: 0, requests: 1, tokens: 10 }, { at: 2000, requests: 5, tokens: 30 })).toEqual({ at: 2000, requests_per_s: 2, tokens_per_s: 10 });
    expect(rateBetween({ at: 0, requests: 5, tokens: 10 }, { at: 0, requests: 5, tokens: 10 })).toBeNull();
  });
});
