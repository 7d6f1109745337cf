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
import { useSubmit } from '../lib/submit';
import { ErrorBox, Loading, Modal, PageHeader, StateBadge } from '../components/ui';
import { DataTable, RowButton } from '../components/DataTable';
import { FormActions, NewPassword, Notice, SelectField } from '../components/forms';

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
  const removing = useSubmit();
  const [notice, setNotice] = useState('');
  const tenantList = tenants.data?.data ?? [];
  const centerList = centers.data?.data ?? [];
  const tenantName = (id: string | null) => (id ? tenantList.find((x) => x.id === id)?.name ?? id.slice(0, 8) : '—');
  const centerName = (id: string | null) => (id ? centerList.find((x) => x.id === id)?.name ?? id.slice(0, 8) : '—');

  const remove = (u: User) => {
    if (!confirm(t('users.confirmDelete', { name: u.username }))) return;
    setNotice('');
    removing.run(async () => {
      await del(`/api/v1/users/${u.id}`);
      setNotice(t('users.deleted', { name: u.username }));
      users.reload();
    });
  };

  return (
    <section>
      <PageHeader title={t('users.title')} />
      <ErrorBox error={users.error} />
      <ErrorBox error={removing.error} />
      <Notice text={notice} testid="users-notice" />
      {users.loading && !users.data && <Loading />}
      {users.data && (
        <DataTable
          testid="users-table"
          caption={t('users.title')}
          rows={users.data.data}
          rowKey={(u) => u.id}
          rowTestid={(u) => `user-row-${u.username}`}
          columns={[
            { head: t('users.username'), cell: (u) => u.username },
            { head: t('users.displayName'), cell: (u) => u.display_name ?? '—' },
            { head: t('users.role'), cell: (u) => t(`role.${u.role}` as MessageKey) },
            { head: t('tenant'), cell: (u) => (u.role === 'member' ? (u.tenant_id ? tenantName(u.tenant_id) : t('users.noTenant')) : '—') },
            { head: t('center'), cell: (u) => centerName(u.center_id) },
            { head: t('status'), cell: (u) => <StateBadge state={u.disabled ? 'disabled' : 'active'} /> },
            { head: t('created'), cell: (u) => i.date(u.created_at) },
          ]}
          actions={(u) => (
            <>
              <RowButton label={t('edit')} name={u.username} onClick={() => setEditing(u)} testid={`user-edit-${u.username}`} />
              <RowButton label={t('users.resetPassword')} name={u.username} onClick={() => setResetting(u)} testid={`user-reset-${u.username}`} />
              <RowButton
                label={t('delete')}
                name={u.username}
                danger
                disabled={u.id === me?.id || removing.busy}
                onClick={() => remove(u)}
                testid={`user-delete-${u.username}`}
                  />
                </>
              )}
        />
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
    return <SelectField label={t('tenant')} required={prefix === 'user'} value={tenantId} onChange={setTenant} options={tenants} testid={`${prefix}-tenant`} />;
  }
  if (role === 'operator') {
    return <SelectField label={t('center')} required value={centerId} onChange={setCenter} options={centers} testid={`${prefix}-center`} />;
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
  const submit = useSubmit();
  const [done, setDone] = useState('');

  const create = (e: Event) => {
    e.preventDefault();
    setDone('');
    submit.run(async () => {
      const body: Record<string, unknown> = { username: username.trim(), password, role };
      if (role === 'member') body.tenant_id = tenantId;
      if (role === 'operator') body.center_id = centerId;
      const u = await post<User>('/api/v1/users', body);
      setDone(t('users.created', { name: u.username }));
      setUsername('');
      setPassword('');
      onCreated();
    });
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
      <button type="submit" class="btn primary" disabled={submit.busy} data-testid="user-create">
        {t('create')}
      </button>
      <Notice text={done} testid="user-created" />
      <ErrorBox error={submit.error} />
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
  const submit = useSubmit();
  const set = <K extends keyof UserForm>(k: K, v: UserForm[K]) => setForm({ ...form, [k]: v });

  const save = (e: Event) => {
    e.preventDefault();
    const body = userPatchBody(user, form);
    if (Object.keys(body).length === 0) return onClose();
    submit.run(async () => {
      await patch<User>(`/api/v1/users/${user.id}`, body);
      onSaved();
      onClose();
    });
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
        <ErrorBox error={submit.error} />
        <FormActions onCancel={onClose} submitLabel={t('save')} busy={submit.busy} testid="user-edit-save" />
      </form>
    </Modal>
  );
}

/** Sets a new password for `user` (the admin tells it to them); their sessions end. */
function ResetPasswordDialog({ user, onClose, onDone }: { user: User; onClose: () => void; onDone: () => void }) {
  const { t } = useI18n();
  const [password, setPassword] = useState('');
  const [confirmed, setConfirmed] = useState('');
  const submit = useSubmit();

  const save = (e: Event) => {
    e.preventDefault();
    const problem = passwordProblem(password, confirmed);
    if (problem) return submit.fail(t(problem === 'short' ? 'password.short' : 'password.mismatch'));
    submit.run(async () => {
      await post(`/api/v1/users/${user.id}/password`, { password });
      onDone();
      onClose();
    });
  };

  return (
    <Modal title={t('users.resetTitle', { name: user.username })} onClose={onClose}>
      <form class="form" onSubmit={save} data-testid="user-reset-form">
        <p class="small muted">{t('users.resetHelp')}</p>
        <NewPassword
          password={password}
          confirmed={confirmed}
          onPassword={setPassword}
          onConfirmed={setConfirmed}
          testid="user-reset-password"
          confirmTestid="user-reset-confirm"
        />
        <ErrorBox error={submit.error} />
        <FormActions onCancel={onClose} submitLabel={t('users.resetPassword')} busy={submit.busy} testid="user-reset-save" />
      </form>
    </Modal>
  );
}
