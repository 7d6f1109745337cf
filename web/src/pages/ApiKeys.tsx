import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import { del, post, type ApiKey, type List, type Service, type Tenant } from '../lib/api';
import { formToLimits, limitsToForm, type LimitsForm } from '../lib/limits';
import { useSubmit } from '../lib/submit';
import { CopyField, ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';
import { DataTable, RowButton } from '../components/DataTable';
import { SelectField, ShowOnce } from '../components/forms';
import { LimitInputs } from './LimitInputs';
import { KeyEditDialog } from './KeyEditDialog';

export function ApiKeysPage() {
  const i = useI18n();
  const { t } = i;
  const { user } = useAuth();
  const admin = user?.role === 'admin';
  const keys = useApi<List<ApiKey>>('/api/v1/api-keys');
  const tenants = useApi<List<Tenant>>(admin ? '/api/v1/tenants' : null);
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [tenantId, setTenantId] = useState('');
  const [created, setCreated] = useState<ApiKey | null>(null);
  const submit = useSubmit();
  const [limits, setLimits] = useState<LimitsForm>(limitsToForm(null));
  const [scope, setScope] = useState<string[]>([]);
  const [editing, setEditing] = useState<ApiKey | null>(null);
  const services = useApi<List<Service>>('/api/v1/services');
  const scopeChoices = (services.data?.data ?? []).filter((s) => s.status !== 'deleted' && (!admin || s.tenant_id === tenantId));

  const create = (e: Event) => {
    e.preventDefault();
    const lim = formToLimits(limits);
    if (lim.bad) return submit.fail(t('limits.bad', { field: t(`limits.${lim.bad}`) }));
    const body: Record<string, unknown> = { name: name.trim() };
    if (Object.values(lim.limits).some((v) => v !== null)) body.limits = lim.limits;
    if (scope.length) body.services = scope;
    if (days.trim()) body.expires_in_seconds = Math.round(Number(days) * 86400);
    if (admin) body.tenant_id = tenantId;
    submit.run(async () => {
      setCreated(await post<ApiKey>('/api/v1/api-keys', body));
      setName('');
      setLimits(limitsToForm(null));
      setScope([]);
      keys.reload();
    });
  };
  const revoke = (k: ApiKey) => {
    if (!confirm(t('keys.confirmRevoke', { name: k.name }))) return;
    submit.run(async () => {
      await del(`/api/v1/api-keys/${k.id}`);
      keys.reload();
    });
  };
  const state = (k: ApiKey) =>
    k.revoked_at ? 'revoked' : k.expires_at && new Date(k.expires_at).getTime() < Date.now() ? 'expired' : 'active';

  return (
    <section>
      <PageHeader title={t('keys.title')} />
      <form class="card form inline-form" onSubmit={create} data-testid="key-create-form">
        <h2>{t('keys.create')}</h2>
        {admin && (
          <SelectField label={t('tenant')} required value={tenantId} onChange={setTenantId} options={tenants.data?.data ?? []} testid="key-tenant" />
        )}
        <label>
          {t('name')}
          <input required maxLength={100} value={name} data-testid="key-name" onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          {t('keys.expiresDays')}
          <input type="number" min={1} max={3650} step="any" value={days} placeholder={t('keys.never')} data-testid="key-expiry" onInput={(e) => setDays(e.currentTarget.value)} />
        </label>
        <details class="wide">
          <summary>{t('keys.advanced')}</summary>
          <LimitInputs form={limits} onChange={setLimits} prefix="key-limits" />
          <fieldset>
            <legend>{t('keys.scope')}</legend>
            <p class="hint">{t('keys.scopeHelp')}</p>
            <div class="checks">
              {scopeChoices.length === 0 && <span class="muted small">{t('services.empty')}</span>}
              {scopeChoices.map((s) => (
                <label class="check" key={s.id}>
                  <input
                    type="checkbox"
                    checked={scope.includes(s.name)}
                    onChange={(e) => setScope(e.currentTarget.checked ? [...scope, s.name] : scope.filter((x) => x !== s.name))}
                    data-testid={`key-scope-${s.name}`}
                  />
                  {s.name}
                </label>
              ))}
            </div>
          </fieldset>
        </details>
        <button type="submit" class="btn primary" disabled={submit.busy} data-testid="key-create">
          {t('keys.createBtn')}
        </button>
      </form>
      {created?.key && (
        <ShowOnce title={t('keys.createdTitle', { name: created.name })} note={t('keys.shownOnce')} testid="key-created" onDone={() => setCreated(null)}>
          <CopyField value={created.key} label={t('keys.secret')} testid="key-secret" />
        </ShowOnce>
      )}
      <ErrorBox error={submit.error ?? keys.error} />
      {keys.loading && !keys.data && <Loading />}
      {keys.data && (
        <DataTable
          testid="keys-table"
          caption={t('keys.title')}
          rows={keys.data.data}
          rowKey={(k) => k.id}
          rowTestid={(k) => `key-row-${k.name}`}
          empty={t('keys.empty')}
          columns={[
            { head: t('name'), cell: (k) => k.name },
            { head: t('keys.prefix'), class: 'mono', cell: (k) => `${k.prefix}…` },
            { head: t('status'), cell: (k) => <StateBadge state={state(k)} /> },
            { head: t('created'), cell: (k) => i.date(k.created_at) },
            { head: t('keys.expires'), cell: (k) => (k.expires_at ? i.date(k.expires_at) : t('keys.never')) },
            { head: t('keys.lastUsed'), cell: (k) => (k.last_used_at ? i.date(k.last_used_at) : '—') },
          ]}
          actions={(k) =>
            !k.revoked_at && (
              <>
                <RowButton label={t('keys.limits')} name={k.name} onClick={() => setEditing(k)} testid={`key-edit-${k.name}`} />
                <RowButton label={t('keys.revoke')} name={k.name} danger onClick={() => revoke(k)} testid={`key-revoke-${k.name}`} />
              </>
            )
          }
        />
      )}
      {editing && <KeyEditDialog apiKey={editing} onClose={() => setEditing(null)} onSaved={keys.reload} />}
    </section>
  );
}
