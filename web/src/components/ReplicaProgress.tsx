// Progress of replicas that are not ready yet: the step (pending ->
// scheduled -> starting -> ready) with the time since scheduling, and while
// the node fetches the model file, the bytes fetched of the file's size (the
// replica's own `model_file`, which everyone who sees the service gets; else
// the node's model list, which admins and operators can read).
import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { get, type ModelCard, type NodeInfo, type Replica } from '../lib/api';
import { STEPS, isFetching } from '../lib/progress';

export { fetchedOf, isFetching } from '../lib/progress';

export function ReplicaProgress({ r, now, fetched }: { r: Replica; now: number; fetched?: { bytes: number; size: number } | null }) {
  const i = useI18n();
  const step = STEPS.indexOf(r.state);
  if (step < 0 || r.state === 'ready') return null;
  const since = r.scheduled_at ? Math.max(0, Math.round((now - new Date(r.scheduled_at).getTime()) / 1000)) : null;
  return (
    <div class="progress-block">
      <div class="progress-line">
        <progress max={STEPS.length - 1} value={step} aria-label={i.t('services.progress')} />
        <span class="small muted">
          {i.t('services.step', { n: step + 1, total: STEPS.length })}
          {since !== null && ` · ${i.t('services.elapsed', { s: i.num(since) })}`}
        </span>
      </div>
      {isFetching(r) && (
        <div class="progress-line" data-testid="fetch-progress">
          {fetched && fetched.size > 0 ? (
            <>
              <progress max={fetched.size} value={Math.min(fetched.bytes, fetched.size)} aria-label={i.t('services.fetching')} />
              <span class="small muted">
                {i.t('services.fetched', {
                  got: i.bytes(fetched.bytes),
                  size: i.bytes(fetched.size),
                  pct: i.num(Math.min(100, (100 * fetched.bytes) / fetched.size), 0),
                })}
              </span>
            </>
          ) : (
            <span class="small muted">{i.t('services.fetching')}</span>
          )}
        </div>
      )}
    </div>
  );
}

/**
 * Bytes of `modelFileId` present on each node (GET /api/v1/nodes/{id}: admins
 * and operators; a refusal means none known) and the file's size from the
 * catalog, re-read whenever `key` changes.
 */
export function useFetchBytes(
  nodeIds: string[],
  canReadNodes: boolean,
  key: string,
): { nodes: Record<string, NodeInfo>; sizes: Record<string, number> } {
  const [nodes, setNodes] = useState<Record<string, NodeInfo>>({});
  const [sizes, setSizes] = useState<Record<string, number>>({});
  useEffect(() => {
    get<{ data: ModelCard[] }>('/api/v1/catalog/models')
      .then((c) => {
        const out: Record<string, number> = {};
        for (const m of c.data) for (const f of m.files) out[f.id] = f.size_bytes;
        setSizes(out);
      })
      .catch(() => {});
  }, []);
  useEffect(() => {
    if (!canReadNodes || nodeIds.length === 0) return;
    let live = true;
    Promise.all(nodeIds.slice(0, 20).map((id) => get<NodeInfo>(`/api/v1/nodes/${id}`).catch(() => null))).then((all) => {
      if (!live) return;
      const out: Record<string, NodeInfo> = {};
      for (const n of all) if (n) out[n.id] = n;
      setNodes(out);
    });
    return () => {
      live = false;
    };
  }, [key, canReadNodes]);
  return { nodes, sizes };
}
