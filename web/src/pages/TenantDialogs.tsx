// The tenants page's dialogs (admin): a tenant's settings (PATCH
// /api/v1/tenants/{id}: display name, allowed regions, max replicas) and its
// members (GET/POST /api/v1/tenants/{id}/members, DELETE .../members/{user_id}).
import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { del, get, patch, post, type List, type Tenant, type User } from '../lib/api';
import { addableUsers, tenantPatchBody, tenantToForm, type TenantForm } from '../lib/accounts';
import { useSubmit } from '../lib/submit';
import { ErrorBox, Loading, Modal } from '../components/ui';
import { DataTable, RowButton } from '../components/DataTable';
import { FormActions, SelectField } from '../components/forms';

export function TenantEditDialog({ tenant, onClose, onSaved }: { tenant: Tenant; onClose: () => void; onSaved: () => void }) {
  const { t } = useI18n();
  const [form, setForm] = useState<TenantForm>(tenantToForm(tenant));
  const submit = useSubmit();
  const set = (k: keyof TenantForm, v: string) => setForm({ ...form, [k]: v });

  const save = (e: Event) => {
    e.preventDefault();
    const { body, bad } = tenantPatchBody(tenant, form);
    if (bad) return submit.fail(t('limits.bad', { field: t('tenants.maxReplicas') }));
    if (Object.keys(body).length === 0) return onClose();
    submit.run(async () => {
      await patch<Tenant>(`/api/v1/tenants/${tenant.id}`, body);
      onSaved();
      onClose();
    });
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
        <ErrorBox error={submit.error} />
        <FormActions onCancel={onClose} submitLabel={t('save')} busy={submit.busy} testid="tenant-edit-save" />
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
  const submit = useSubmit();
  const [version, setVersion] = useState(0);

  useEffect(() => {
    get<List<User>>(`/api/v1/tenants/${tenant.id}/members`)
      .then((l) => setMembers(l.data))
      .catch(submit.setError);
  }, [tenant.id, version]);

  const act = (fn: () => Promise<unknown>) =>
    submit.run(async () => {
      await fn();
      setVersion((v) => v + 1);
      onChanged();
    });
  const add = async (e: Event) => {
    e.preventDefault();
    if (adding && (await act(() => post(`/api/v1/tenants/${tenant.id}/members`, { user_id: adding })))) setAdding('');
  };
  const remove = (u: User) => {
    if (!confirm(t('tenants.confirmRemoveMember', { name: u.username, tenant: tenant.name }))) return;
    act(() => del(`/api/v1/tenants/${tenant.id}/members/${u.id}`));
  };
  const title = t('tenants.membersTitle', { name: tenant.name });

  return (
    <Modal title={title} onClose={onClose}>
      {!members && !submit.error && <Loading />}
      {members && (
        <DataTable
          testid="tenant-members-table"
          caption={title}
          rows={members}
          rowKey={(u) => u.id}
          rowTestid={(u) => `member-row-${u.username}`}
          empty={t('tenants.noMembers')}
          columns={[
            { head: t('users.username'), cell: (u) => u.username },
            { head: t('users.displayName'), cell: (u) => u.display_name ?? '—' },
            { head: t('users.role'), cell: () => t('role.member') },
          ]}
          actions={(u) => (
            <RowButton label={t('tenants.removeMember')} name={u.username} danger disabled={submit.busy} onClick={() => remove(u)} testid={`member-remove-${u.username}`} />
          )}
        />
      )}
      <form class="form inline-form" onSubmit={add} data-testid="member-add-form">
        <SelectField
          label={t('tenants.addMember')}
          hint={t('tenants.addMemberHint')}
          value={adding}
          onChange={setAdding}
          options={addableUsers(users).map((u) => ({ id: u.id, name: u.username }))}
          testid="member-add-user"
        />
        <button type="submit" class="btn primary" disabled={submit.busy || !adding} data-testid="member-add">
          {t('tenants.addMember')}
        </button>
      </form>
      <ErrorBox error={submit.error} />
    </Modal>
  );
}
