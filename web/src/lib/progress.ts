// Where a replica is on its way to ready, and how much of its model file the
// node holds (tested in progress.test.ts).
import type { NodeInfo, Replica } from './api';

export const STEPS = ['pending', 'scheduled', 'starting', 'ready'];

/** The replica's agent note says it is fetching the model file. */
export function isFetching(r: Replica): boolean {
  return r.state === 'starting' && /^fetching model file/i.test(r.reason ?? '');
}

/**
 * Bytes of the service's model file on the replica's node, of the file's size:
 * the replica's own `model_file`, else the node's model list; null when unknown.
 */
export function fetchedOf(
  r: Replica,
  modelFileId: string,
  data: { nodes: Record<string, NodeInfo>; sizes: Record<string, number> },
): { bytes: number; size: number } | null {
  if (!r.node_id) return null;
  // The replica says it itself (GET /services: whoever sees the service).
  if (r.model_file && r.model_file.size_bytes > 0) return { bytes: r.model_file.bytes_present, size: r.model_file.size_bytes };
  const m = data.nodes[r.node_id]?.models?.find((x) => x.model_file_id === modelFileId);
  const size = data.sizes[modelFileId];
  if (!m || !size) return null;
  return { bytes: m.bytes_present, size };
}
