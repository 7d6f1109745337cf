import { describe, expect, it } from 'vitest';
import { fetchedOf, isFetching } from './progress';
import type { NodeInfo, Replica } from './api';

const replica = (state: string, reason: string, node_id: string | null = 'n1') => ({ id: 'r', state, reason, node_id }) as Replica;
const nodes = {
  n1: { id: 'n1', models: [{ model_file_id: 'f1', model: 'm', quantization: 'Q8_0', state: 'fetching', bytes_present: 250 }] } as unknown as NodeInfo,
};

describe('replica progress', () => {
  it.each([
    ['starting', 'fetching model file', true],
    ['starting', 'fetching model file: 12 MiB', true],
    ['starting', 'starting scn infer', false],
    ['pending', 'fetching model file', false],
  ])('isFetching(%s, %s) = %s', (state, reason, want) => expect(isFetching(replica(state, reason))).toBe(want));
  it('gives bytes of size from the node and the catalog', () => {
    expect(fetchedOf(replica('starting', 'fetching model file'), 'f1', { nodes, sizes: { f1: 1000 } })).toEqual({ bytes: 250, size: 1000 });
  });
  it('is null when the node, the file or its size is unknown', () => {
    expect(fetchedOf(replica('starting', '', null), 'f1', { nodes, sizes: { f1: 1000 } })).toBeNull();
    expect(fetchedOf(replica('starting', ''), 'f2', { nodes, sizes: { f2: 1000 } })).toBeNull();
    expect(fetchedOf(replica('starting', ''), 'f1', { nodes, sizes: {} })).toBeNull();
  });
  it("prefers the replica's own model_file (members see it without reading nodes)", () => {
    const r = { ...replica('starting', 'fetching model file'), model_file: { state: 'downloading', bytes_present: 600, size_bytes: 2000 } };
    expect(fetchedOf(r, 'f1', { nodes: {}, sizes: {} })).toEqual({ bytes: 600, size: 2000 });
    expect(fetchedOf({ ...r, model_file: null }, 'f1', { nodes, sizes: { f1: 1000 } })).toEqual({ bytes: 250, size: 1000 });
  });
});
