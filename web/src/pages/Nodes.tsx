import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi, useNow } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import { del, deviceLabel, get, post, type Center, type List, type NodeInfo, type NodeReplica } from '../lib/api';
import { useSubmit } from '../lib/submit';
import { ErrorBox, Loading, PageHeader, SimulatedBadge, StateBadge } from '../components/ui';
import { DegradedBanner, SlurmBadge } from '../components/Slurm';
import { degradedFromNodes } from '../lib/slurm';

/** Details (replicas, models) of each node, re-read with the list. */
function useNodeDetails(nodes: NodeInfo[] | undefined): Record<string, NodeInfo> {
  const [details, setDetails] = useState<Record<string, NodeInfo>>({});
  const ids = (nodes ?? []).slice(0, 50).map((n) => `${n.id}@${n.last_heartbeat_at}@${n.status}`).join(',');
  useEffect(() => {
    if (!nodes) return;
    let live = true;
    Promise.all(nodes.slice(0, 50).map((n) => get<NodeInfo>(`/api/v1/nodes/${n.id}`).catch(() => null))).then((all) => {
      if (!live) return;
      const out: Record<string, NodeInfo> = {};
      for (const d of all) if (d) out[d.id] = d;
      setDetails(out);
    });
    return () => {
      live = false;
    };
  }, [ids]);
  return details;
}

export function NodesPage() {
  const i = useI18n();
  const { t } = i;
  const { user } = useAuth();
  const admin = user?.role === 'admin';
  const now = useNow(1000);
  const [centerId, setCenterId] = useState('');
  const centers = useApi<List<Center>>('/api/v1/centers');
  const nodes = useApi<List<NodeInfo>>(`/api/v1/nodes${centerId ? `?center_id=${centerId}` : ''}`, 5000);
  const details = useNodeDetails(nodes.data?.data);
  const action = useSubmit();
  const act = (id: string, fn: () => Promise<unknown>) =>
    action.run(async () => {
      await fn();
      nodes.reload();
    }, id);

  const myCenters = centers.data?.data ?? [];
  const title = !admin && myCenters.length === 1 ? t('nodes.titleCenter', { name: myCenters[0].name }) : t('nodes.title');

  return (
    <section>
      <PageHeader title={title} />
      {!admin && myCenters[0] && (
        <p class="muted" data-testid="my-center">
          {t('nodes.centerLine', {
            region: myCenters[0].region,
            gpu: i.cny(myCenters[0].price_gpu_hour),
            cpu: i.cny(myCenters[0].price_cpu_core_hour),
          })}
        </p>
      )}
      {admin && (
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <label>
            {t('center')}
            <select value={centerId} onChange={(e) => setCenterId(e.currentTarget.value)} data-testid="nodes-center">
              <option value="">{t('all')}</option>
              {myCenters.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
        </form>
      )}
      {degradedFromNodes(nodes.data?.data ?? []).map((d) => (
        <DegradedBanner key={d.center_id} text={t('slurm.degraded', { name: d.center_name, n: d.unreachable, total: d.slurm_nodes })} />
      ))}
      <ErrorBox error={action.error ?? nodes.error} />
      {nodes.loading && !nodes.data && <Loading />}
      {nodes.data && nodes.data.data.length === 0 && <p class="muted">{t('nodes.empty')}</p>}
      <div class="cards" data-testid="nodes">
        {(nodes.data?.data ?? []).map((n) => {
          const d = details[n.id];
          const reps: NodeReplica[] = Array.isArray(d?.replicas) ? d!.replicas : [];
          const used = reps.filter((r) => ['scheduled', 'starting', 'ready', 'stopping'].includes(r.state)).reduce((a, r) => a + (r.memory_bytes ?? 0), 0);
          const total = n.devices.filter((x) => x.kind === 'gpu').reduce((a, x) => a + x.memory_bytes * x.count, 0) ||
            n.devices.reduce((a, x) => a + x.memory_bytes, 0);
          const age = n.last_heartbeat_at ? Math.max(0, Math.round((now - new Date(n.last_heartbeat_at).getTime()) / 1000)) : null;
          const count = typeof n.replicas === 'number' ? n.replicas : n.replica_count ?? reps.length;
          return (
            <article class="card node" key={n.id} data-testid={`node-${n.name}`} data-status={n.status}>
              <header>
                <h2>{n.name}</h2>
                <StateBadge state={n.status} testid="node-status" />
                {n.simulated && <SimulatedBadge />}
                {n.managed_by === 'slurm' && n.slurm && <SlurmBadge slurm={n.slurm} />}
                <span class={`badge ${n.alive ? 'ok' : 'bad'}`}>{n.alive ? t('nodes.alive') : t('nodes.notAlive')}</span>
              </header>
              <dl class="facts">
                <dt>{t('center')}</dt>
                <dd>
                  {n.center_name} ({n.region})
                </dd>
                <dt>{t('nodes.address')}</dt>
                <dd class="mono">{n.address}</dd>
                {n.slurm && (
                  <>
                    <dt>{t('slurm.node')}</dt>
                    <dd class="mono" data-testid="slurm-node">
                      {n.slurm.node}
                    </dd>
                    <dt>{t('slurm.partition')}</dt>
                    <dd class="mono">{n.slurm.partition}</dd>
                    {n.slurm.reason && (
                      <>
                        <dt>{t('slurm.reason')}</dt>
                        <dd>{n.slurm.reason}</dd>
                      </>
                    )}
                  </>
                )}
                <dt>{t('nodes.heartbeat')}</dt>
                <dd data-testid="node-heartbeat">{age === null ? '—' : t('nodes.secondsAgo', { s: i.num(age) })}</dd>
                <dt>{t('nodes.replicas')}</dt>
                <dd data-testid="node-replicas">{i.num(count)}</dd>
                <dt>{t('nodes.memory')}</dt>
                <dd>
                  {t('nodes.usedOf', { used: i.bytes(used), total: i.bytes(total), free: i.bytes(Math.max(0, total - used)) })}
                  <meter min={0} max={total || 1} value={used} aria-label={t('nodes.memory')} />
                </dd>
              </dl>
              {n.status_reason && <p class="small notice">{n.status_reason}</p>}
              <table class="compact">
                <caption>{t('nodes.devices')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('nodes.kind')}</th>
                    <th scope="col">{t('nodes.model')}</th>
                    <th scope="col" class="num">{t('nodes.count')}</th>
                    <th scope="col" class="num">{t('nodes.memEach')}</th>
                  </tr>
                </thead>
                <tbody>
                  {n.devices.map((x, k) => (
                    <tr key={k}>
                      <td>
                        {(x.kind ?? '').toUpperCase()} {n.simulated && <span class="small muted">({t('simulated')})</span>}
                      </td>
                      <td>{x.model}</td>
                      <td class="num">{i.num(x.count)}</td>
                      <td class="num">{i.bytes(x.kind === 'gpu' ? x.memory_bytes : x.memory_bytes)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {reps.length > 0 && (
                <details>
                  <summary>{t('nodes.replicaList', { n: reps.length })}</summary>
                  <ul class="plain">
                    {reps.map((r) => (
                      <li key={r.id}>
                        <StateBadge state={r.state} /> {r.service_name} · {i.bytes(r.memory_bytes)}
                        {deviceLabel(r.device) ? ` · ${deviceLabel(r.device)}` : ''}
                      </li>
                    ))}
                  </ul>
                </details>
              )}
              {d?.models && d.models.length > 0 && (
                <details>
                  <summary>{t('nodes.models', { n: d.models.length })}</summary>
                  <ul class="plain">
                    {d.models.map((m) => (
                      <li key={m.model_file_id}>
                        <StateBadge state={m.state} /> {m.model} {m.quantization} · {i.bytes(m.bytes_present)}
                      </li>
                    ))}
                  </ul>
                </details>
              )}
              <div class="card-actions">
                {n.status === 'draining' ? (
                  <button type="button" class="btn" disabled={action.busyKey === n.id} data-testid="node-undrain" onClick={() => act(n.id, () => post(`/api/v1/nodes/${n.id}/undrain`))}>
                    {t('nodes.undrain')}
                  </button>
                ) : (
                  <button type="button" class="btn" disabled={action.busyKey === n.id || n.status !== 'ready'} data-testid="node-drain" onClick={() => act(n.id, () => post(`/api/v1/nodes/${n.id}/drain`))}>
                    {t('nodes.drain')}
                  </button>
                )}
                <button
                  type="button"
                  class="btn danger"
                  disabled={action.busyKey === n.id}
                  data-testid="node-remove"
                  onClick={() => confirm(t('nodes.confirmRemove', { name: n.name })) && act(n.id, () => del(`/api/v1/nodes/${n.id}`))}
                >
                  {t('nodes.remove')}
                </button>
              </div>
            </article>
          );
        })}
      </div>
    </section>
  );
}
