// The tenants page's dialogs (admin): a tenant's settings (PATCH
// /api/v1/tenants/{id}: display name, allowed regions, max replicas) and its
// members (GET/POST /api/v1/tenants/{id}/members, DELETE .../members/{user_id}).
import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { del, get, patch, post, type List, type Tenant, type User } from '../lib/api';
import { addableUsers, tenantPatchBody, tenantToForm, type TenantForm } from '../lib/accounts';
import { ErrorBox, Loading, Modal } from '../components/ui';

export function TenantEditDialog({ tenant, onClose, onSaved }: { tenant: Tenant; onClose: () => void; onSaved: () => void }) {
  const { t } = useI18n();
  const [form, setForm] = useState<TenantForm>(tenantToForm(tenant));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof TenantForm, v: string) => setForm({ ...form, [k]: v });

  const save = async (e: Event) => {
    e.preventDefault();
    const { body, bad } = tenantPatchBody(tenant, form);
    if (bad) {
      setError(new Error(t('limits.bad', { field: t('tenants.maxReplicas') })));
      return;
    }
    if (Object.keys(body).length === 0) {
      onClose();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await patch<Tenant>(`/api/v1/tenants/${tenant.id}`, body);
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={t('tenants.editTitle', { name: tenant.name })} onClose={onClose}>
      <form class="form" onSubmit={save} data-testid="tenant-edit-form">
        <label>
          {t('tenants.display')}
          <input required maxLength={200} value={form.display_name} onInput={(e) => set('display_name', e.currentTarget.value)} data-testid="tenant-edit-display" />
        </label>
        <label>
          {t('tenants.regionsInput')}
          <input value={form.regions} placeholder={t('tenants.anyRegion')} onInput={(e) => set('regions', e.currentTarget.value)} data-testid="tenant-edit-regions" />
        </label>
        <label>
          {t('tenants.maxReplicas')}
          <input type="number" min={0} max={10000} required value={form.max_replicas} onInput={(e) => set('max_replicas', e.currentTarget.value)} data-testid="tenant-edit-max" />
        </label>
        <ErrorBox error={error} />
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            {t('cancel')}
          </button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="tenant-edit-save">
            {t('save')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function TenantMembersDialog({ tenant, users, onClose, onChanged }: {
  tenant: Tenant;
  users: User[];
  onClose: () => void;
  onChanged: () => void;
}) {
  const { t } = useI18n();
  const [members, setMembers] = useState<User[] | null>(null);
  const [adding, setAdding] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    get<List<User>>(`/api/v1/tenants/${tenant.id}/members`)
      .then((l) => setMembers(l.data))
      .catch(setError);
  }, [tenant.id, version]);

  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      setVersion(version + 1);
      onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const add = (e: Event) => {
    e.preventDefault();
    if (!adding) return;
    act(() => post(`/api/v1/tenants/${tenant.id}/members`, { user_id: adding })).then(() => setAdding(''));
  };
  const remove = (u: User) => {
    if (!confirm(t('tenants.confirmRemoveMember', { name: u.username, tenant: tenant.name }))) return;
    act(() => del(`/api/v1/tenants/${tenant.id}/members/${u.id}`));
  };
  const candidates = addableUsers(users);

  return (
    <Modal title={t('tenants.membersTitle', { name: tenant.name })} onClose={onClose}>
      {!members && !error && <Loading />}
      {members && (
        <div class="table-scroll" tabIndex={0}>
          <table data-testid="tenant-members-table">
            <caption class="sr-only">{t('tenants.membersTitle', { name: tenant.name })}</caption>
            <thead>
              <tr>
                <th scope="col">{t('users.username')}</th>
                <th scope="col">{t('users.displayName')}</th>
                <th scope="col">{t('users.role')}</th>
                <th scope="col">
                  <span class="sr-only">{t('actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {members.length === 0 && (
                <tr>
                  <td colSpan={4} class="muted">
                    {t('tenants.noMembers')}
                  </td>
                </tr>
              )}
              {members.map((u) => (
                <tr key={u.id} data-testid={`member-row-${u.username}`}>
                  <td>{u.username}</td>
                  <td>{u.display_name ?? '—'}</td>
                  <td>{t('role.member')}</td>
                  <td>
                    <button
                      type="button"
                      class="btn small danger"
                      disabled={busy}
                      onClick={() => remove(u)}
                      data-testid={`member-remove-${u.username}`}
                      aria-label={`${t('tenants.removeMember')}: ${u.username}`}
                    >
                      {t('tenants.removeMember')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="form inline-form" onSubmit={add} data-testid="member-add-form">
        <label>
          {t('tenants.addMember')}
          <select value={adding} onChange={(e) => setAdding(e.currentTarget.value)} data-testid="member-add-user">
            <option value="">—</option>
            {candidates.map((u) => (
              <option key={u.id} value={u.id}>
                {u.username}
              </option>
            ))}
          </select>
          <span class="hint">{t('tenants.addMemberHint')}</span>
        </label>
        <button type="submit" class="btn primary" disabled={busy || !adding} data-testid="member-add">
          {t('tenants.addMember')}
        </button>
      </form>
      <ErrorBox error={error} />
    </Modal>
  );
}
