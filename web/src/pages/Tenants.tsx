import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { post, type List, type Service, type Tenant, type User } from '../lib/api';
import { ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';
import { TenantLimitsDialog } from './TenantLimitsDialog';
import { TenantEditDialog, TenantMembersDialog } from './TenantDialogs';

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
  const [editing, setEditing] = useState<Tenant | null>(null);
  const [settings, setSettings] = useState<Tenant | null>(null);
  const [membersOf, setMembersOf] = useState<Tenant | null>(null);

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
      setMaxReplicas('');
      setRegions('');
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
        <div class="table-scroll" tabIndex={0}>
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
                <th scope="col">
                  <span class="sr-only">{t('actions')}</span>
                </th>
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
                  <td class="actions">
                    <button
                      type="button"
                      class="btn small"
                      onClick={() => setSettings(x)}
                      data-testid={`tenant-edit-${x.name}`}
                      aria-label={`${t('edit')}: ${x.name}`}
                    >
                      {t('edit')}
                    </button>
                    <button
                      type="button"
                      class="btn small"
                      onClick={() => setMembersOf(x)}
                      data-testid={`tenant-members-${x.name}`}
                      aria-label={`${t('tenants.members')}: ${x.name}`}
                    >
                      {t('tenants.members')}
                    </button>
                    <button
                      type="button"
                      class="btn small"
                      onClick={() => setEditing(x)}
                      data-testid={`tenant-limits-${x.name}`}
                      aria-label={`${t('limits.edit')}: ${x.name}`}
                    >
                      {t('limits.edit')}
                    </button>
                  </td>
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
          <input required pattern="[a-z0-9][a-z0-9\-]{0,62}" value={name} onInput={(e) => setName(e.currentTarget.value)} data-testid="tenant-name" />
        </label>
        <label>
          {t('tenants.display')}
          <input maxLength={200} value={display} onInput={(e) => setDisplay(e.currentTarget.value)} data-testid="tenant-display" />
        </label>
        <label>
          {t('tenants.maxReplicas')}
          <input type="number" min={0} max={10000} value={maxReplicas} onInput={(e) => setMaxReplicas(e.currentTarget.value)} />
        </label>
        <label>
          {t('tenants.regionsInput')}
          <input value={regions} placeholder="beijing, guangdong" onInput={(e) => setRegions(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn primary" data-testid="tenant-create">
          {t('create')}
        </button>
        <ErrorBox error={error} />
      </form>
      {editing && <TenantLimitsDialog tenant={editing} onClose={() => setEditing(null)} onSaved={tenants.reload} />}
      {settings && <TenantEditDialog tenant={settings} onClose={() => setSettings(null)} onSaved={tenants.reload} />}
      {membersOf && (
        <TenantMembersDialog tenant={membersOf} users={users.data?.data ?? []} onClose={() => setMembersOf(null)} onChanged={users.reload} />
      )}
    </section>
  );
}
