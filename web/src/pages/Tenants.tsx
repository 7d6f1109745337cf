import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { post, type List, type Service, type Tenant, type User } from '../lib/api';
import { ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';

export function TenantsPage() {
  const i = useI18n();
  const { t } = i;
  const tenants = useApi<List<Tenant>>('/api/v1/tenants');
  const users = useApi<List<User>>('/api/v1/users');
  const services = useApi<List<Service>>('/api/v1/services');
  const [name, setName] = useState('');
  const [display, setDisplay] = useState('');
  const [maxReplicas, setMaxReplicas] = useState('');
  const [regions, setRegions] = useState('');
  const [error, setError] = useState<unknown>(null);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const body: Record<string, unknown> = { name: name.trim() };
      if (display.trim()) body.display_name = display.trim();
      if (maxReplicas.trim()) body.max_replicas = Number(maxReplicas);
      const r = regions.split(',').map((x) => x.trim()).filter(Boolean);
      if (r.length) body.allowed_regions = r;
      await post('/api/v1/tenants', body);
      setName('');
      setDisplay('');
      tenants.reload();
    } catch (err) {
      setError(err);
    }
  };
  const usedReplicas = (id: string) =>
    (services.data?.data ?? []).filter((s) => s.tenant_id === id && s.status !== 'deleted').reduce((a, s) => a + s.replicas_wanted, 0);
  const members = (id: string) => (users.data?.data ?? []).filter((u) => u.tenant_id === id).length;

  return (
    <section>
      <PageHeader title={t('tenants.title')} />
      <ErrorBox error={tenants.error} />
      {tenants.loading && !tenants.data && <Loading />}
      {tenants.data && (
        <div class="table-scroll">
          <table data-testid="tenants-table">
            <thead>
              <tr>
                <th scope="col">{t('name')}</th>
                <th scope="col">{t('tenants.display')}</th>
                <th scope="col">{t('status')}</th>
                <th scope="col" class="num">{t('tenants.quota')}</th>
                <th scope="col" class="num">{t('tenants.members')}</th>
                <th scope="col">{t('tenants.regions')}</th>
                <th scope="col">{t('created')}</th>
              </tr>
            </thead>
            <tbody>
              {tenants.data.data.map((x) => (
                <tr key={x.id} data-testid={`tenant-row-${x.name}`}>
                  <td>{x.name}</td>
                  <td>{x.display_name}</td>
                  <td>
                    <StateBadge state={x.status} />
                  </td>
                  <td class="num">
                    {i.num(usedReplicas(x.id))} / {i.num(x.max_replicas)}
                  </td>
                  <td class="num">{i.num(members(x.id))}</td>
                  <td>{x.allowed_regions?.join(', ') ?? t('tenants.anyRegion')}</td>
                  <td>{i.date(x.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="card form inline-form" onSubmit={create} data-testid="tenant-create-form">
        <h2>{t('tenants.create')}</h2>
        <label>
          {t('name')}
          <input required pattern="[a-z0-9][a-z0-9\-]{0,62}" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          {t('tenants.display')}
          <input maxLength={200} value={display} onInput={(e) => setDisplay(e.currentTarget.value)} />
        </label>
        <label>
          {t('tenants.maxReplicas')}
          <input type="number" min={0} max={10000} value={maxReplicas} onInput={(e) => setMaxReplicas(e.currentTarget.value)} />
        </label>
        <label>
          {t('tenants.regionsInput')}
          <input value={regions} placeholder="beijing, guangdong" onInput={(e) => setRegions(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn primary">
          {t('create')}
        </button>
        <ErrorBox error={error} />
      </form>
    </section>
  );
}
