import { describe, expect, it } from 'vitest';
import { bytesForContext, emptyFilter, filterCards, sizeBucket, weightsIn } from './catalog';
import type { ModelCard, ModelFile } from './api';

const file = (quantization: string, present: boolean): ModelFile => ({
  id: quantization, quantization, file_name: `${quantization}.gguf`, size_bytes: 100, size_source: 'exact',
  weights_present: present, sha256: null, uri: null, present_in: [],
  requirements: { weight_bytes: 100, kv_bytes_per_token: 2, kv_element_bytes: 4, runtime_overhead_bytes: 10, context_length: 50, bytes_at_max_context: 210 },
});
const card = (name: string, family: string, parameters: number, context_length: number, files: ModelFile[]): ModelCard => ({
  id: name, name, display_name: name.toUpperCase(), family, architecture: 'llama', parameters, context_length, licence: 'MIT', files,
});
const cards = [
  card('tiny', 'tinyllamas', 260e3, 512, [file('F32', true)]),
  card('qwen-7b', 'qwen2.5', 7.6e9, 32768, [file('Q4_K_M', false), file('Q8_0', false)]),
  card('llama-70b', 'llama3', 70e9, 131072, [file('Q4_K_M', false)]),
];
const names = (f: Partial<typeof emptyFilter>) => filterCards(cards, { ...emptyFilter, ...f }).map((c) => c.name);

describe('catalog filters', () => {
  const table: [Partial<typeof emptyFilter>, string[]][] = [
    [{}, ['tiny', 'qwen-7b', 'llama-70b']],
    [{ q: 'QWEN' }, ['qwen-7b']],
    [{ family: 'llama3' }, ['llama-70b']],
    [{ size: '3to10' }, ['qwen-7b']],
    [{ size: 'gt40' }, ['llama-70b']],
    [{ quant: 'Q8_0' }, ['qwen-7b']],
    [{ minContext: 32768 }, ['qwen-7b', 'llama-70b']],
    [{ presentOnly: true }, ['tiny']],
  ];
  for (const [f, want] of table) it(JSON.stringify(f), () => expect(names(f)).toEqual(want));
  it('buckets sizes', () => expect([1e9, 3e9, 39e9, 40e9].map(sizeBucket)).toEqual(['lt3', '3to10', '10to40', 'gt40']));
  it('caps the KV cache at the file context', () => {
    expect(bytesForContext(file('F32', true), 10)).toBe(100 + 20 + 10);
    expect(bytesForContext(file('F32', true), 1000)).toBe(100 + 100 + 10);
  });
});

describe('weightsIn', () => {
  const at = (center: string, nodes: number) => ({ center_id: `id-${center}`, center_name: center, nodes });
  it('lists each center once, by name, with its most nodes for one file', () => {
    const c = card('m', 'f', 1e9, 512, [
      { ...file('Q4', true), present_in: [at('sh-gpu', 1), at('bj-gpu', 1)] },
      { ...file('Q8', true), present_in: [at('bj-gpu', 3)] },
      file('F16', false),
    ]);
    expect(weightsIn(c)).toEqual([at('bj-gpu', 3), at('sh-gpu', 1)]);
  });
  it('is empty when no center holds a file', () => {
    expect(weightsIn(card('m', 'f', 1e9, 512, [file('Q4', false)]))).toEqual([]);
  });
});
