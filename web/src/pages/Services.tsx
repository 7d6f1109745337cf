import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi, useNow } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import { get, type List, type Service, type Tenant } from '../lib/api';
import { Link } from '../lib/router';
import { DataTable } from '../components/DataTable';
import { ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';
import { ReplicaProgress, fetchedOf, isFetching, useFetchBytes } from '../components/ReplicaProgress';

/** Replicas (with reasons) of the services that are not fully ready, re-read every 3 s. */
function useStartingReplicas(list: Service[], tick: number): Record<string, Service> {
  const [out, setOut] = useState<Record<string, Service>>({});
  const ids = list.filter((s) => s.replicas_ready < s.replicas_wanted).slice(0, 20).map((s) => s.id);
  useEffect(() => {
    if (ids.length === 0) {
      setOut({});
      return;
    }
    let live = true;
    Promise.all(ids.map((id) => get<Service>(`/api/v1/services/${id}`).catch(() => null))).then((all) => {
      if (!live) return;
      const m: Record<string, Service> = {};
      for (const s of all) if (s) m[s.id] = s;
      setOut(m);
    });
    return () => {
      live = false;
    };
  }, [ids.join(','), tick]);
  return out;
}

export function ServicesPage() {
  const i = useI18n();
  const { t } = i;
  const { user } = useAuth();
  const admin = user?.role === 'admin';
  const services = useApi<List<Service>>('/api/v1/services', 3000);
  const tenants = useApi<List<Tenant>>(admin ? '/api/v1/tenants' : null);
  const tenantName = (id: string) => tenants.data?.data.find((x) => x.id === id)?.name ?? id.slice(0, 8);
  const list = (services.data?.data ?? []).filter((s) => s.status !== 'deleted');
  const now = useNow(1000);
  const tick = Math.floor(now / 3000);
  const starting = useStartingReplicas(list, tick);
  const fetchingNodes = Object.values(starting).flatMap((s) => (s.replicas ?? []).filter(isFetching).map((r) => r.node_id!)).filter(Boolean);
  const fetch = useFetchBytes(fetchingNodes, user?.role !== 'member', `${fetchingNodes.join(',')}@${tick}`);

  return (
    <section>
      <PageHeader title={admin ? t('services.allTitle') : t('services.title')}>
        <Link href="/catalog" class="btn">
          {t('services.new')}
        </Link>
      </PageHeader>
      <ErrorBox error={services.error} />
      {services.loading && !services.data && <Loading />}
      {services.data && list.length === 0 && <p class="muted">{t('services.empty')}</p>}
      {list.length > 0 && (
        <DataTable
          testid="services-table"
          caption={admin ? t('services.allTitle') : t('services.title')}
          rows={list}
          rowKey={(s) => s.id}
          rowTestid={(s) => `service-row-${s.name}`}
          columns={[
            {
              head: t('name'),
              cell: (s) => (
                <Link href={`/services/${s.id}`} data-testid={`service-link-${s.name}`}>
                  {s.name}
                </Link>
              ),
            },
            admin && { head: t('tenant'), cell: (s) => tenantName(s.tenant_id) },
            {
              head: t('services.model'),
              cell: (s) => (
                <>
                  {s.model} <span class="muted">{s.quantization}</span>
                </>
              ),
            },
            {
              head: t('status'),
              cell: (s) => (
                <>
                  <StateBadge state={s.status} testid="service-state" />
                  {s.status_reason && <div class="small muted">{s.status_reason}</div>}
                  {(starting[s.id]?.replicas ?? [])
                    .filter((r) => r.state !== 'ready' && r.state !== 'stopped' && r.state !== 'lost')
                    .map((r) => (
                      <div key={r.id} class="small" data-testid="service-replica-progress">
                        <StateBadge state={r.state} /> {r.node_name ?? ''}
                        <ReplicaProgress r={r} now={now} fetched={fetchedOf(r, s.model_file_id, fetch)} />
                      </div>
                    ))}
                </>
              ),
            },
            { head: t('services.replicas'), cell: (s) => `${i.num(s.replicas_ready)} / ${i.num(s.replicas_wanted)}` },
            { head: t('created'), cell: (s) => i.date(s.created_at) },
          ]}
        />
      )}
    </section>
  );
}
