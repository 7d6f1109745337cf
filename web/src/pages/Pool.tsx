import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { en, type MessageKey } from '../i18n/en';
import { useApi } from '../lib/hooks';
import type { List, Pool, PoolHistory, UsageRow } from '../lib/api';
import { byAccelerator, centerMemory, rateBetween, usageTotals, type RatePoint } from '../lib/pool';
import { totalsByDay } from '../lib/usage';
import { Chart } from '../components/Chart';
import { ErrorBox, Loading, PageHeader, SimulatedBadge } from '../components/ui';
import { DegradedBanner } from '../components/Slurm';
import { degradedCenters } from '../lib/slurm';

const GIB = 1024 ** 3;
const MAX_POINTS = 120;

export function PoolPage() {
  const i = useI18n();
  const { t } = i;
  const pool = useApi<Pool>('/api/v1/pool', 5000);
  const history = useApi<PoolHistory>('/api/v1/pool/history?minutes=60', 5000);
  // Without the history endpoint, rates are sampled here from the usage totals.
  const sampled = !!history.error && !history.data;
  const usage = useApi<List<UsageRow>>('/api/v1/usage?group_by=day', sampled ? 5000 : 60000);
  const [rates, setRates] = useState<RatePoint[]>([]);
  const last = useRef<{ at: number; requests: number; tokens: number } | null>(null);
  const [updated, setUpdated] = useState<number | null>(null);

  useEffect(() => {
    if (pool.data) setUpdated(Date.now());
  }, [pool.data]);
  useEffect(() => {
    if (!usage.data) return;
    const cur = { at: Date.now(), ...usageTotals(usage.data.data) };
    if (last.current) {
      const r = rateBetween(last.current, cur);
      if (r) setRates((old) => [...old, r].slice(-MAX_POINTS));
    }
    last.current = cur;
  }, [usage.data]);

  const p = pool.data;
  const sim = t('simulated');
  const centers = useMemo(() => (p ? centerMemory(p) : []), [p]);
  const accels = useMemo(() => (p ? byAccelerator(p) : []), [p]);
  const perDay = useMemo(() => totalsByDay(usage.data?.data ?? []), [usage.data]);
  const lostNow = centers.reduce((a, c) => a + c.lost, 0);
  const lostHour = history.data?.nodes_lost ?? [];
  const lost = history.data ? lostHour.length : lostNow;
  const ratePoints: RatePoint[] = history.data
    ? history.data.series.map((m) => ({
        at: new Date(m.minute).getTime(),
        requests_per_s: m.requests / 60,
        tokens_per_s: (m.prompt_tokens + m.completion_tokens) / 60,
      }))
    : rates;
  const anySim = accels.some((a) => a.simulated);

  const centerOption = useMemo(
    () => ({
      tooltip: { trigger: 'axis' },
      legend: { data: [t('pool.used'), t('pool.free')] },
      grid: { left: 16, right: 16, bottom: 16, top: 40, containLabel: true },
      xAxis: { type: 'category', data: centers.map((c) => (c.simulated ? `${c.name} (${sim})` : c.name)) },
      yAxis: { type: 'value', name: 'GiB' },
      series: [
        { name: t('pool.used'), type: 'bar', stack: 'm', data: centers.map((c) => +(c.used / GIB).toFixed(2)) },
        { name: t('pool.free'), type: 'bar', stack: 'm', data: centers.map((c) => +((c.memory - c.used) / GIB).toFixed(2)) },
      ],
    }),
    [centers, i.lang],
  );
  const accelOption = useMemo(
    () => ({
      tooltip: { trigger: 'axis' },
      legend: { data: [t('pool.usedUnits'), t('pool.freeUnits')] },
      grid: { left: 16, right: 16, bottom: 16, top: 40, containLabel: true },
      xAxis: {
        type: 'category',
        axisLabel: { interval: 0, rotate: 20 },
        data: accels.map((a) => `${(a.kind ?? '').toUpperCase()} ${a.model}${a.simulated ? ` (${sim})` : ''}`),
      },
      yAxis: { type: 'value', name: t('pool.units') },
      series: [
        { name: t('pool.usedUnits'), type: 'bar', stack: 'u', data: accels.map((a) => a.used_count) },
        { name: t('pool.freeUnits'), type: 'bar', stack: 'u', data: accels.map((a) => Math.max(0, a.count - a.used_count)) },
      ],
    }),
    [accels, i.lang],
  );
  const replicaStates = Object.entries(p?.replicas ?? {});
  const stateLabel = (k: string) => {
    const key = `state.${k}` as MessageKey;
    return key in en ? t(key) : k;
  };
  const replicaOption = useMemo(
    () => ({
      tooltip: { trigger: 'item' },
      grid: { left: 16, right: 16, bottom: 16, top: 20, containLabel: true },
      xAxis: { type: 'category', data: replicaStates.map(([k]) => stateLabel(k)) },
      yAxis: { type: 'value', minInterval: 1 },
      series: [{ type: 'bar', data: replicaStates.map(([, v]) => v) }],
    }),
    [JSON.stringify(p?.replicas), i.lang],
  );
  const rateOption = useMemo(
    () => ({
      tooltip: { trigger: 'axis' },
      legend: { data: [t('pool.tokensPerS'), t('pool.requestsPerS')] },
      grid: { left: 16, right: 16, bottom: 16, top: 40, containLabel: true },
      xAxis: { type: 'time' },
      yAxis: [
        { type: 'value', name: t('pool.tokensPerS') },
        { type: 'value', name: t('pool.requestsPerS') },
      ],
      series: [
        { name: t('pool.tokensPerS'), type: 'line', showSymbol: false, data: ratePoints.map((r) => [r.at, +r.tokens_per_s.toFixed(2)]) },
        { name: t('pool.requestsPerS'), type: 'line', yAxisIndex: 1, showSymbol: false, data: ratePoints.map((r) => [r.at, +r.requests_per_s.toFixed(3)]) },
      ],
    }),
    [ratePoints, i.lang],
  );
  const dayOption = useMemo(
    () => ({
      tooltip: { trigger: 'axis' },
      grid: { left: 16, right: 16, bottom: 16, top: 20, containLabel: true },
      xAxis: { type: 'category', data: perDay.map((d) => d.day) },
      yAxis: { type: 'value', name: t('usage.tokens') },
      series: [{ name: t('usage.tokens'), type: 'bar', data: perDay.map((d) => d.tokens) }],
    }),
    [perDay, i.lang],
  );

  return (
    <section>
      <PageHeader title={t('pool.title')}>
        <span class="small muted" aria-live="polite" data-testid="pool-updated">
          {updated ? t('pool.updated', { at: new Date(updated).toLocaleTimeString(i.locale) }) : ''}
        </span>
      </PageHeader>
      <ErrorBox error={pool.error} />
      {!p && !pool.error && <Loading />}
      {p && (
        <>
          {anySim && (
            <p class="notice small" data-testid="pool-simulated-note">
              <SimulatedBadge /> {t('pool.simulatedNote')}
            </p>
          )}
          {degradedCenters(p.centers).map((c) => (
            <DegradedBanner key={c.id} text={t('slurm.degradedPool', { name: c.name })} title={c.degraded_reason} />
          ))}
          <div class="stats">
            <div class="stat">
              <span>{t('pool.centers')}</span>
              <strong data-testid="pool-centers">{i.num(p.centers.length)}</strong>
            </div>
            <div class="stat">
              <span>{t('pool.nodesReady')}</span>
              <strong data-testid="pool-nodes-ready">{i.num(p.centers.reduce((a, c) => a + (c.nodes.ready ?? 0), 0))}</strong>
            </div>
            <div class="stat">
              <span>{history.data ? t('pool.nodesLostHour') : t('pool.nodesLost')}</span>
              <strong data-testid="pool-nodes-lost" class={lost ? 'bad-text' : ''}>
                {i.num(lost)}
              </strong>
            </div>
            <div class="stat">
              <span>{t('pool.replicasReady')}</span>
              <strong data-testid="pool-replicas-ready">{i.num(p.replicas.ready ?? 0)}</strong>
            </div>
            <div class="stat">
              <span>{t('pool.services')}</span>
              <strong>{i.num(Object.values(p.services).reduce((a, b) => a + b, 0))}</strong>
            </div>
          </div>
          <div class="grid2">
            <div class="card">
              <h2>{t('pool.byCenter')}</h2>
              <Chart option={centerOption} label={t('pool.byCenter')} testid="pool-chart" points={centers.length} />
            </div>
            <div class="card">
              <h2>{t('pool.byAccel')}</h2>
              <Chart option={accelOption} label={t('pool.byAccel')} testid="pool-chart-accel" points={accels.length} />
            </div>
            <div class="card">
              <h2>{t('pool.replicasByState')}</h2>
              <Chart option={replicaOption} label={t('pool.replicasByState')} testid="pool-chart-replicas" height={220} points={replicaStates.length} />
            </div>
            <div class="card">
              <h2>{t('pool.rate')}</h2>
              <Chart option={rateOption} label={t('pool.rate')} testid="pool-chart-rate" height={220} points={ratePoints.length} />
              <p class="small muted">{history.data ? t('pool.rateNoteHistory') : t('pool.rateNote')}</p>
            </div>
            {perDay.length > 0 && (
              <div class="card">
                <h2>{t('pool.tokensPerDay')}</h2>
                <Chart option={dayOption} label={t('pool.tokensPerDay')} testid="pool-chart-days" height={220} points={perDay.length} />
              </div>
            )}
          </div>
          {lostHour.length > 0 && (
            <div class="card" data-testid="pool-lost">
              <h2>{t('pool.lostList')}</h2>
              <ul class="plain">
                {lostHour.map((n) => (
                  <li key={n.id}>
                    <strong>{n.name}</strong> ({n.center_name}) · {i.date(n.at)}
                    {n.reason ? ` · ${n.reason}` : ''}
                  </li>
                ))}
              </ul>
            </div>
          )}
          <h2>{t('pool.centerTable')}</h2>
          <div class="table-scroll" tabIndex={0}>
            <table data-testid="pool-table">
              <thead>
                <tr>
                  <th scope="col">{t('center')}</th>
                  <th scope="col">{t('nodes.devices')}</th>
                  <th scope="col" class="num">{t('pool.unitsUsed')}</th>
                  <th scope="col" class="num">{t('pool.memUsed')}</th>
                  <th scope="col">{t('pool.nodes')}</th>
                </tr>
              </thead>
              <tbody>
                {p.centers.flatMap((c) =>
                  c.devices.map((d, k) => (
                    <tr key={`${c.id}-${k}`}>
                      <td>{k === 0 ? `${c.name} (${c.region})` : ''}</td>
                      <td>
                        {(d.kind ?? '').toUpperCase()} {d.model} {d.simulated && <SimulatedBadge />}
                      </td>
                      <td class="num">
                        {i.num(d.used_count)} / {i.num(d.count)}
                      </td>
                      <td class="num">
                        {i.bytes(d.used_memory_bytes)} / {i.bytes(d.memory_bytes)}
                      </td>
                      <td>
                        {k === 0 ? t('pool.nodeCounts', { ready: c.nodes.ready ?? 0, draining: c.nodes.draining ?? 0, lost: c.nodes.lost ?? 0 }) : ''}
                        {k === 0 && (c.slurm_nodes ?? 0) > 0 && (
                          <>
                            {' '}
                            <span class="badge slurm ok" title={t('slurm.help')} data-testid="pool-slurm-count">
                              {t('slurm.count', { n: c.slurm_nodes ?? 0 })}
                            </span>
                          </>
                        )}
                        {k === 0 && c.degraded && (
                          <>
                            {' '}
                            <span class="badge bad" data-testid="pool-degraded">
                              {t('slurm.controllerUnreachable')}
                            </span>
                          </>
                        )}
                      </td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
