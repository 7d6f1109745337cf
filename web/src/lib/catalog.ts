// Pure helpers of the catalog page (tested in catalog.test.ts).
import type { FilePresence, ModelCard, ModelFile } from './api';

export type SizeBucket = '' | 'lt3' | '3to10' | '10to40' | 'gt40';
export interface CatalogFilter {
  q: string;
  family: string;
  size: SizeBucket;
  quant: string;
  minContext: number;
  presentOnly: boolean;
}
export const emptyFilter: CatalogFilter = { q: '', family: '', size: '', quant: '', minContext: 0, presentOnly: false };

export function sizeBucket(parameters: number): SizeBucket {
  const b = parameters / 1e9;
  if (b < 3) return 'lt3';
  if (b < 10) return '3to10';
  if (b < 40) return '10to40';
  return 'gt40';
}

export function filterCards(cards: ModelCard[], f: CatalogFilter): ModelCard[] {
  const q = f.q.trim().toLowerCase();
  return cards.filter((c) => {
    if (q && !`${c.name} ${c.display_name} ${c.family} ${c.architecture}`.toLowerCase().includes(q)) return false;
    if (f.family && c.family !== f.family) return false;
    if (f.size && sizeBucket(c.parameters) !== f.size) return false;
    if (f.quant && !c.files.some((x) => x.quantization === f.quant)) return false;
    if (f.minContext && c.context_length < f.minContext) return false;
    if (f.presentOnly && !c.files.some((x) => x.weights_present)) return false;
    return true;
  });
}

/** Memory a replica of `file` needs for `context` tokens (float32 KV cache). */
export function bytesForContext(file: ModelFile, context: number): number {
  const r = file.requirements;
  const ctx = Math.min(context, r.context_length);
  return r.weight_bytes + r.kv_bytes_per_token * ctx + r.runtime_overhead_bytes;
}

export function defaultContext(card: ModelCard): number {
  return Math.min(card.context_length, 4096);
}

/**
 * Where a card's weights are: each center holding any of its files, by name,
 * with the most nodes that hold one file there.
 */
export function weightsIn(card: ModelCard): FilePresence[] {
  const by = new Map<string, FilePresence>();
  for (const f of card.files) {
    for (const p of f.present_in ?? []) {
      const old = by.get(p.center_id);
      if (!old || old.nodes < p.nodes) by.set(p.center_id, { ...p });
    }
  }
  return [...by.values()].sort((a, b) => a.center_name.localeCompare(b.center_name));
}
