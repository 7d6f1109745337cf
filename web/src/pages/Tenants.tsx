import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { patch, post, type List, type Service, type Tenant, type User } from '../lib/api';
import { useSubmit } from '../lib/submit';
import { ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';
import { DataTable, RowButton } from '../components/DataTable';
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
  const submit = useSubmit();
  const [editing, setEditing] = useState<Tenant | null>(null);
  const [settings, setSettings] = useState<Tenant | null>(null);
  const [membersOf, setMembersOf] = useState<Tenant | null>(null);

  const create = (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = { name: name.trim() };
    if (display.trim()) body.display_name = display.trim();
    if (maxReplicas.trim()) body.max_replicas = Number(maxReplicas);
    const r = regions.split(',').map((x) => x.trim()).filter(Boolean);
    if (r.length) body.allowed_regions = r;
    submit.run(async () => {
      await post('/api/v1/tenants', body);
      setName('');
      setDisplay('');
      setMaxReplicas('');
      setRegions('');
      tenants.reload();
    });
  };
  const usedReplicas = (id: string) =>
    (services.data?.data ?? []).filter((s) => s.tenant_id === id && s.status !== 'deleted').reduce((a, s) => a + s.replicas_wanted, 0);
  const members = (id: string) => (users.data?.data ?? []).filter((u) => u.tenant_id === id).length;
  // Suspend / reinstate (PATCH status; docs/API.md "Suspended tenants"), after a confirmation.
  const statusAction = useSubmit();
  const toggleSuspended = (x: Tenant) => {
    const suspend = x.status !== 'suspended';
    if (!confirm(t(suspend ? 'tenants.confirmSuspend' : 'tenants.confirmReinstate', { name: x.name }))) return;
    statusAction.run(async () => {
      await patch<Tenant>(`/api/v1/tenants/${x.id}`, { status: suspend ? 'suspended' : 'active' });
      tenants.reload();
    });
  };

  return (
    <section>
      <PageHeader title={t('tenants.title')} />
      <ErrorBox error={tenants.error} />
      <ErrorBox error={statusAction.error} />
      {tenants.loading && !tenants.data && <Loading />}
      {tenants.data && (
        <DataTable
          testid="tenants-table"
          caption={t('tenants.title')}
          rows={tenants.data.data}
          rowKey={(x) => x.id}
          rowTestid={(x) => `tenant-row-${x.name}`}
          columns={[
            { head: t('name'), cell: (x) => x.name },
            { head: t('tenants.display'), cell: (x) => x.display_name },
            { head: t('status'), cell: (x) => <StateBadge state={x.status} testid={`tenant-status-${x.name}`} /> },
            { head: t('tenants.quota'), num: true, cell: (x) => `${i.num(usedReplicas(x.id))} / ${i.num(x.max_replicas)}` },
            { head: t('tenants.members'), num: true, cell: (x) => i.num(members(x.id)) },
            { head: t('tenants.regions'), cell: (x) => x.allowed_regions?.join(', ') ?? t('tenants.anyRegion') },
            { head: t('created'), cell: (x) => i.date(x.created_at) },
          ]}
          actions={(x) => (
            <>
              <RowButton label={t('edit')} name={x.name} onClick={() => setSettings(x)} testid={`tenant-edit-${x.name}`} />
              <RowButton label={t('tenants.members')} name={x.name} onClick={() => setMembersOf(x)} testid={`tenant-members-${x.name}`} />
              <RowButton label={t('limits.edit')} name={x.name} onClick={() => setEditing(x)} testid={`tenant-limits-${x.name}`} />
              <RowButton
                label={t(x.status === 'suspended' ? 'tenants.reinstate' : 'tenants.suspend')}
                name={x.name}
                onClick={() => toggleSuspended(x)}
                danger={x.status !== 'suspended'}
                disabled={statusAction.busy}
                testid={`tenant-${x.status === 'suspended' ? 'reinstate' : 'suspend'}-${x.name}`}
              />
            </>
          )}
        />
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
        <button type="submit" class="btn primary" disabled={submit.busy} data-testid="tenant-create">
          {t('create')}
        </button>
        <ErrorBox error={submit.error} />
      </form>
      {editing && <TenantLimitsDialog tenant={editing} onClose={() => setEditing(null)} onSaved={tenants.reload} />}
      {settings && <TenantEditDialog tenant={settings} onClose={() => setSettings(null)} onSaved={tenants.reload} />}
      {membersOf && (
        <TenantMembersDialog tenant={membersOf} users={users.data?.data ?? []} onClose={() => setMembersOf(null)} onChanged={users.reload} />
      )}
    </section>
  );
}
