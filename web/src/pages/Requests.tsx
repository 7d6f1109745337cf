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
          <label>
            {t('tenant')}
            <select value={tenantId} onChange={(e) => setTenantId(e.currentTarget.value)} data-testid="requests-tenant">
              <option value="">{t('all')}</option>
              {(tenants.data?.data ?? []).map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          {t('usage.service')}
          <select value={serviceId} onChange={(e) => setServiceId(e.currentTarget.value)} data-testid="requests-service">
            <option value="">{t('all')}</option>
            {liveServices.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
      </form>
      <ErrorBox error={recent.error} />
      {recent.loading && !recent.data && <Loading />}
      <div class="table-scroll" tabIndex={0}>
        <table data-testid="requests-table" class="compact">
          <caption class="sr-only">{t('requests.title')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('requests.at')}</th>
              <th scope="col">{t('usage.service')}</th>
              <th scope="col">{t('status')}</th>
              <th scope="col">{t('requests.route')}</th>
              <th scope="col" class="num">{t('usage.prompt')}</th>
              <th scope="col" class="num">{t('usage.completion')}</th>
              <th scope="col" class="num">{t('requests.latency')}</th>
              <th scope="col" class="num">{t('requests.ttfb')}</th>
            </tr>
          </thead>
          <tbody>
            {recent.data && rows.length === 0 && (
              <tr>
                <td colSpan={8} class="muted">
                  {t('requests.empty')}
                </td>
              </tr>
            )}
            {rows.map((r) => {
              const route = routeParts(r, names);
              const ok = r.status >= 200 && r.status < 300 && !r.error;
              return (
                <tr key={r.id} data-testid={`request-row-${r.service_name}`}>
                  <td>
                    {i.date(r.started_at)}
                    <div class="small muted mono" title={t('requests.id')}>
                      {r.request_id}
                    </div>
                  </td>
                  <td>
                    {r.service_name}
                    {r.stream && <span class="small muted"> · {t('requests.stream')}</span>}
                  </td>
                  <td>
                    <span class={`badge ${ok ? 'ok' : 'bad'}`}>{r.status}</span>
                    {r.error && <div class="small bad-text">{r.error}</div>}
                    {r.attempts > 1 && <div class="small muted">{t('requests.attempts', { n: r.attempts })}</div>}
                  </td>
                  <td>
                    {route ? (
                      <span data-testid="request-route">
                        {route.center} / {route.node} / <span class="mono">{route.replica}</span>
                      </span>
                    ) : (
                      <span class="muted">{t('requests.noRoute')}</span>
                    )}
                  </td>
                  <td class="num">{i.num(r.usage?.prompt_tokens ?? 0)}</td>
                  <td class="num">{i.num(r.usage?.completion_tokens ?? 0)}</td>
                  <td class="num">{t('requests.ms', { n: i.num(r.latency_ms, 1) })}</td>
                  <td class="num">{r.ttfb_ms === null ? '—' : t('requests.ms', { n: i.num(r.ttfb_ms, 1) })}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {more instanceof Error && <ErrorBox error={more} />}
      {rows.length >= PAGE && more !== 'end' && (
        <button type="button" class="btn" onClick={loadOlder} data-testid="requests-more">
          {t('audit.more')}
        </button>
      )}
    </section>
  );
}
