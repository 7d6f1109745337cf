import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { post, type Center, type List, type Role, type Service, type Tenant, type User } from '../lib/api';
import type { MessageKey } from '../i18n/en';
import { ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';
import { TenantLimitsDialog } from './TenantLimitsDialog';

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
                  <td>
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
      <UsersSection tenants={tenants.data?.data ?? []} users={users.data?.data ?? []} onCreated={users.reload} />
      {editing && <TenantLimitsDialog tenant={editing} onClose={() => setEditing(null)} onSaved={tenants.reload} />}
    </section>
  );
}

const ROLES: Role[] = ['member', 'operator', 'admin'];

/** The users list and a form creating one (POST /api/v1/users). */
function UsersSection({ tenants, users, onCreated }: { tenants: Tenant[]; users: User[]; onCreated: () => void }) {
  const i = useI18n();
  const { t } = i;
  const centers = useApi<List<Center>>('/api/v1/centers');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [tenantId, setTenantId] = useState('');
  const [centerId, setCenterId] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const tenantName = (id: string | null) => (id ? tenants.find((x) => x.id === id)?.name ?? id.slice(0, 8) : '—');
  const centerName = (id: string | null) => (id ? centers.data?.data.find((x) => x.id === id)?.name ?? id.slice(0, 8) : '—');

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone('');
    try {
      const body: Record<string, unknown> = { username: username.trim(), password, role };
      if (role === 'member') body.tenant_id = tenantId;
      if (role === 'operator') body.center_id = centerId;
      const u = await post<User>('/api/v1/users', body);
      setDone(t('users.created', { name: u.username }));
      setUsername('');
      setPassword('');
      onCreated();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      <h2>{t('users.title')}</h2>
      <div class="table-scroll" tabIndex={0}>
        <table data-testid="users-table">
          <caption class="sr-only">{t('users.title')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('users.username')}</th>
              <th scope="col">{t('users.role')}</th>
              <th scope="col">{t('tenant')}</th>
              <th scope="col">{t('center')}</th>
              <th scope="col">{t('created')}</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id} data-testid={`user-row-${u.username}`}>
                <td>{u.username}</td>
                <td>{t(`role.${u.role}` as MessageKey)}</td>
                <td>{tenantName(u.tenant_id)}</td>
                <td>{centerName(u.center_id)}</td>
                <td>{i.date(u.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form class="card form inline-form" onSubmit={create} data-testid="user-create-form">
        <h2>{t('users.create')}</h2>
        <label>
          {t('users.username')}
          <input required pattern="[A-Za-z0-9][A-Za-z0-9._@\-]{0,99}" autoComplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} data-testid="user-name" />
        </label>
        <label>
          {t('users.password')}
          <input type="password" required minLength={8} autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} data-testid="user-password" />
        </label>
        <label>
          {t('users.role')}
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)} data-testid="user-role">
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`role.${r}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        {role === 'member' && (
          <label>
            {t('tenant')}
            <select required value={tenantId} onChange={(e) => setTenantId(e.currentTarget.value)} data-testid="user-tenant">
              <option value="">—</option>
              {tenants.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </select>
          </label>
        )}
        {role === 'operator' && (
          <label>
            {t('center')}
            <select required value={centerId} onChange={(e) => setCenterId(e.currentTarget.value)} data-testid="user-center">
              <option value="">—</option>
              {(centers.data?.data ?? []).map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <button type="submit" class="btn primary" data-testid="user-create">
          {t('create')}
        </button>
        {done && (
          <p role="status" class="notice" data-testid="user-created">
            {done}
          </p>
        )}
        <ErrorBox error={error} />
      </form>
    </>
  );
}
