// Users (admin): the list with display name, role, tenant or center and
// state; create one (POST /api/v1/users), edit one (PATCH /api/v1/users/{id}:
// display name, role, tenant/center, disabled), reset a password
// (POST /api/v1/users/{id}/password) and delete one (DELETE /api/v1/users/{id}).
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import type { MessageKey } from '../i18n/en';
import { useApi } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import { del, patch, post, type Center, type List, type Role, type Tenant, type User } from '../lib/api';
import { passwordProblem, userPatchBody, userToForm, type UserForm } from '../lib/accounts';
import { ErrorBox, Loading, Modal, PageHeader, StateBadge } from '../components/ui';

const ROLES: Role[] = ['member', 'operator', 'admin'];

export function UsersPage() {
  const i = useI18n();
  const { t } = i;
  const { user: me } = useAuth();
  const users = useApi<List<User>>('/api/v1/users');
  const tenants = useApi<List<Tenant>>('/api/v1/tenants');
  const centers = useApi<List<Center>>('/api/v1/centers');
  const [editing, setEditing] = useState<User | null>(null);
  const [resetting, setResetting] = useState<User | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const tenantList = tenants.data?.data ?? [];
  const centerList = centers.data?.data ?? [];
  const tenantName = (id: string | null) => (id ? tenantList.find((x) => x.id === id)?.name ?? id.slice(0, 8) : '—');
  const centerName = (id: string | null) => (id ? centerList.find((x) => x.id === id)?.name ?? id.slice(0, 8) : '—');

  const remove = async (u: User) => {
    if (!confirm(t('users.confirmDelete', { name: u.username }))) return;
    setError(null);
    setNotice('');
    try {
      await del(`/api/v1/users/${u.id}`);
      setNotice(t('users.deleted', { name: u.username }));
      users.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <PageHeader title={t('users.title')} />
      <ErrorBox error={users.error} />
      <ErrorBox error={error} />
      {notice && (
        <p role="status" class="notice" data-testid="users-notice">
          {notice}
        </p>
      )}
      {users.loading && !users.data && <Loading />}
      {users.data && (
        <div class="table-scroll" tabIndex={0}>
          <table data-testid="users-table">
            <caption class="sr-only">{t('users.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('users.username')}</th>
                <th scope="col">{t('users.displayName')}</th>
                <th scope="col">{t('users.role')}</th>
                <th scope="col">{t('tenant')}</th>
                <th scope="col">{t('center')}</th>
                <th scope="col">{t('status')}</th>
                <th scope="col">{t('created')}</th>
                <th scope="col">
                  <span class="sr-only">{t('actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.data.map((u) => (
                <tr key={u.id} data-testid={`user-row-${u.username}`}>
                  <td>{u.username}</td>
                  <td>{u.display_name ?? '—'}</td>
                  <td>{t(`role.${u.role}` as MessageKey)}</td>
                  <td>{u.role === 'member' ? (u.tenant_id ? tenantName(u.tenant_id) : t('users.noTenant')) : '—'}</td>
                  <td>{centerName(u.center_id)}</td>
                  <td>
                    <StateBadge state={u.disabled ? 'disabled' : 'active'} />
                  </td>
                  <td>{i.date(u.created_at)}</td>
                  <td class="actions">
                    <button type="button" class="btn small" onClick={() => setEditing(u)} data-testid={`user-edit-${u.username}`} aria-label={`${t('edit')}: ${u.username}`}>
                      {t('edit')}
                    </button>
                    <button type="button" class="btn small" onClick={() => setResetting(u)} data-testid={`user-reset-${u.username}`} aria-label={`${t('users.resetPassword')}: ${u.username}`}>
                      {t('users.resetPassword')}
                    </button>
                    <button
                      type="button"
                      class="btn small danger"
                      disabled={u.id === me?.id}
                      onClick={() => remove(u)}
                      data-testid={`user-delete-${u.username}`}
                      aria-label={`${t('delete')}: ${u.username}`}
                    >
                      {t('delete')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateUserForm tenants={tenantList} centers={centerList} onCreated={users.reload} />
      {editing && (
        <EditUserDialog
          user={editing}
          tenants={tenantList}
          centers={centerList}
          onClose={() => setEditing(null)}
          onSaved={users.reload}
        />
      )}
      {resetting && (
        <ResetPasswordDialog
          user={resetting}
          onClose={() => setResetting(null)}
          onDone={() => setNotice(t('users.passwordReset', { name: resetting.username }))}
        />
      )}
    </section>
  );
}

function TenantOrCenter({ role, tenants, centers, tenantId, centerId, setTenant, setCenter, prefix }: {
  role: Role;
  tenants: Tenant[];
  centers: Center[];
  tenantId: string;
  centerId: string;
  setTenant: (v: string) => void;
  setCenter: (v: string) => void;
  prefix: string;
}) {
  const { t } = useI18n();
  if (role === 'member') {
    return (
      <label>
        {t('tenant')}
        <select required={prefix === 'user'} value={tenantId} onChange={(e) => setTenant(e.currentTarget.value)} data-testid={`${prefix}-tenant`}>
          <option value="">—</option>
          {tenants.map((x) => (
            <option key={x.id} value={x.id}>
              {x.name}
            </option>
          ))}
        </select>
      </label>
    );
  }
  if (role === 'operator') {
    return (
      <label>
        {t('center')}
        <select required value={centerId} onChange={(e) => setCenter(e.currentTarget.value)} data-testid={`${prefix}-center`}>
          <option value="">—</option>
          {centers.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </label>
    );
  }
  return null;
}

function RoleSelect({ value, onChange, testid }: { value: Role; onChange: (r: Role) => void; testid: string }) {
  const { t } = useI18n();
  return (
    <label>
      {t('users.role')}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value as Role)} data-testid={testid}>
        {ROLES.map((r) => (
          <option key={r} value={r}>
            {t(`role.${r}` as MessageKey)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A form creating a user (POST /api/v1/users). */
function CreateUserForm({ tenants, centers, onCreated }: { tenants: Tenant[]; centers: Center[]; onCreated: () => void }) {
  const { t } = useI18n();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [tenantId, setTenantId] = useState('');
  const [centerId, setCenterId] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState('');

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
      <RoleSelect value={role} onChange={setRole} testid="user-role" />
      <TenantOrCenter role={role} tenants={tenants} centers={centers} tenantId={tenantId} centerId={centerId} setTenant={setTenantId} setCenter={setCenterId} prefix="user" />
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
  );
}

function EditUserDialog({ user, tenants, centers, onClose, onSaved }: {
  user: User;
  tenants: Tenant[];
  centers: Center[];
  onClose: () => void;
  onSaved: () => void;
}) {
  const { t } = useI18n();
  const [form, setForm] = useState<UserForm>(userToForm(user));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof UserForm>(k: K, v: UserForm[K]) => setForm({ ...form, [k]: v });

  const save = async (e: Event) => {
    e.preventDefault();
    const body = userPatchBody(user, form);
    if (Object.keys(body).length === 0) {
      onClose();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await patch<User>(`/api/v1/users/${user.id}`, body);
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={t('users.editTitle', { name: user.username })} onClose={onClose}>
      <form class="form" onSubmit={save} data-testid="user-edit-form">
        <label>
          {t('users.displayName')}
          <input maxLength={200} value={form.display_name} onInput={(e) => set('display_name', e.currentTarget.value)} data-testid="user-edit-display" />
        </label>
        <RoleSelect value={form.role} onChange={(r) => set('role', r)} testid="user-edit-role" />
        <TenantOrCenter
          role={form.role}
          tenants={tenants}
          centers={centers}
          tenantId={form.tenant_id}
          centerId={form.center_id}
          setTenant={(v) => set('tenant_id', v)}
          setCenter={(v) => set('center_id', v)}
          prefix="user-edit"
        />
        <label class="check">
          <input type="checkbox" checked={form.disabled} onChange={(e) => set('disabled', e.currentTarget.checked)} data-testid="user-edit-disabled" />
          {t('users.disabled')}
        </label>
        <ErrorBox error={error} />
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            {t('cancel')}
          </button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="user-edit-save">
            {t('save')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** Sets a new password for `user` (the admin tells it to them); their sessions end. */
function ResetPasswordDialog({ user, onClose, onDone }: { user: User; onClose: () => void; onDone: () => void }) {
  const { t } = useI18n();
  const [password, setPassword] = useState('');
  const [confirmed, setConfirmed] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const save = async (e: Event) => {
    e.preventDefault();
    const problem = passwordProblem(password, confirmed);
    if (problem) {
      setError(new Error(t(problem === 'short' ? 'password.short' : 'password.mismatch')));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await post(`/api/v1/users/${user.id}/password`, { password });
      onDone();
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={t('users.resetTitle', { name: user.username })} onClose={onClose}>
      <form class="form" onSubmit={save} data-testid="user-reset-form">
        <p class="small muted">{t('users.resetHelp')}</p>
        <label>
          {t('password.new')}
          <input type="password" required minLength={8} autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} data-testid="user-reset-password" />
        </label>
        <label>
          {t('password.confirm')}
          <input type="password" required minLength={8} autoComplete="new-password" value={confirmed} onInput={(e) => setConfirmed(e.currentTarget.value)} data-testid="user-reset-confirm" />
        </label>
        <ErrorBox error={error} />
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            {t('cancel')}
          </button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="user-reset-save">
            {t('users.resetPassword')}
          </button>
        </div>
      </form>
    </Modal>
  );
}
