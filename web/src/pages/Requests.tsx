// Recent requests (GET /api/v1/requests): what each gateway request got and
// the route it took (service, center, node, replica), tokens and latency;
// filter by service (and tenant for admins), older rows page in.
import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import { get, type Center, type List, type NodeInfo, type Service, type Tenant } from '../lib/api';
import { routeParts, type RequestRow } from '../lib/billing';
import { ErrorBox, Loading, PageHeader } from '../components/ui';
import { DataTable } from '../components/DataTable';
import { SelectField } from '../components/forms';

const PAGE = 50;

export function RequestsPage() {
  const i = useI18n();
  const { t } = i;
  const { user } = useAuth();
  const admin = user?.role === 'admin';
  const [serviceId, setServiceId] = useState('');
  const [tenantId, setTenantId] = useState('');
  const [older, setOlder] = useState<RequestRow[]>([]);
  const [more, setMore] = useState<unknown>(null);
  const services = useApi<List<Service>>('/api/v1/services');
  const tenants = useApi<List<Tenant>>(admin ? '/api/v1/tenants' : null);
  const centers = useApi<List<Center>>('/api/v1/centers');
  const nodes = useApi<List<NodeInfo>>(admin ? '/api/v1/nodes' : null);
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (serviceId) q.set('service_id', serviceId);
  if (admin && tenantId) q.set('tenant_id', tenantId);
  const path = `/api/v1/requests?${q.toString()}`;
  const recent = useApi<List<RequestRow>>(path, 5000);
  useEffect(() => setOlder([]), [path]);

  const first = recent.data?.data ?? [];
  const seen = new Set(first.map((r) => String(r.id)));
  const rows = [...first, ...older.filter((r) => !seen.has(String(r.id)))];
  const names = {
    centers: Object.fromEntries((centers.data?.data ?? []).map((c) => [c.id, c.name])),
    nodes: Object.fromEntries((nodes.data?.data ?? []).map((n) => [n.id, n.name])),
  };
  const loadOlder = async () => {
    const last = rows[rows.length - 1];
    if (!last) return;
    const q2 = new URLSearchParams(q);
    q2.set('before_id', String(last.id));
    try {
      const page = await get<List<RequestRow>>(`/api/v1/requests?${q2.toString()}`);
      setOlder([...older, ...page.data]);
      setMore(page.data.length < PAGE ? 'end' : null);
    } catch (e) {
      setMore(e);
    }
  };
  const liveServices = (services.data?.data ?? []).filter((s) => s.status !== 'deleted');

  return (
    <section>
      <PageHeader title={t('requests.title')} />
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        {admin && (
          <SelectField label={t('tenant')} value={tenantId} onChange={setTenantId} options={tenants.data?.data ?? []} none={t('all')} testid="requests-tenant" />
        )}
        <SelectField label={t('usage.service')} value={serviceId} onChange={setServiceId} options={liveServices} none={t('all')} testid="requests-service" />
      </form>
      <ErrorBox error={recent.error} />
      {recent.loading && !recent.data && <Loading />}
      <DataTable
        testid="requests-table"
        class="compact"
        caption={t('requests.title')}
        rows={rows}
        rowKey={(r) => r.id}
        rowTestid={(r) => `request-row-${r.service_name}`}
        empty={recent.data ? t('requests.empty') : null}
        columns={[
          {
            head: t('requests.at'),
            cell: (r) => (
              <>
                {i.date(r.started_at)}
                <div class="small muted mono" title={t('requests.id')}>
                  {r.request_id}
                </div>
              </>
            ),
          },
          {
            head: t('usage.service'),
            cell: (r) => (
              <>
                {r.service_name}
                {r.stream && <span class="small muted"> · {t('requests.stream')}</span>}
              </>
            ),
          },
          {
            head: t('status'),
            cell: (r) => (
              <>
                <span class={`badge ${r.status >= 200 && r.status < 300 && !r.error ? 'ok' : 'bad'}`}>{r.status}</span>
                {r.error && <div class="small bad-text">{r.error}</div>}
                {r.attempts > 1 && <div class="small muted">{t('requests.attempts', { n: r.attempts })}</div>}
              </>
            ),
          },
          {
            head: t('requests.route'),
            cell: (r) => {
              const route = routeParts(r, names);
              return route ? (
                <span data-testid="request-route">
                  {route.center} / {route.node} / <span class="mono">{route.replica}</span>
                </span>
              ) : (
                <span class="muted">{t('requests.noRoute')}</span>
              );
            },
          },
          { head: t('usage.prompt'), num: true, cell: (r) => i.num(r.usage?.prompt_tokens ?? 0) },
          { head: t('usage.completion'), num: true, cell: (r) => i.num(r.usage?.completion_tokens ?? 0) },
          { head: t('requests.latency'), num: true, cell: (r) => t('requests.ms', { n: i.num(r.latency_ms, 1) }) },
          { head: t('requests.ttfb'), num: true, cell: (r) => (r.ttfb_ms === null ? '—' : t('requests.ms', { n: i.num(r.ttfb_ms, 1) })) },
        ]}
      />
      {more instanceof Error && <ErrorBox error={more} />}
      {rows.length >= PAGE && more !== 'end' && (
        <button type="button" class="btn" onClick={loadOlder} data-testid="requests-more">
          {t('audit.more')}
        </button>
      )}
    </section>
  );
}
