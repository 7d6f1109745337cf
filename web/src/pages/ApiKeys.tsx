import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import { del, post, type ApiKey, type List, type Service, type Tenant } from '../lib/api';
import { formToLimits, limitsToForm, type LimitsForm } from '../lib/limits';
import { CopyField, ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';
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
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [limits, setLimits] = useState<LimitsForm>(limitsToForm(null));
  const [scope, setScope] = useState<string[]>([]);
  const [editing, setEditing] = useState<ApiKey | null>(null);
  const services = useApi<List<Service>>('/api/v1/services');
  const scopeChoices = (services.data?.data ?? []).filter((s) => s.status !== 'deleted' && (!admin || s.tenant_id === tenantId));

  const create = async (e: Event) => {
    e.preventDefault();
    const lim = formToLimits(limits);
    if (lim.bad) {
      setError(new Error(t('limits.bad', { field: t(`limits.${lim.bad}`) })));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { name: name.trim() };
      if (Object.values(lim.limits).some((v) => v !== null)) body.limits = lim.limits;
      if (scope.length) body.services = scope;
      if (days.trim()) body.expires_in_seconds = Math.round(Number(days) * 86400);
      if (admin) body.tenant_id = tenantId;
      const k = await post<ApiKey>('/api/v1/api-keys', body);
      setCreated(k);
      setName('');
      setLimits(limitsToForm(null));
      setScope([]);
      keys.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (k: ApiKey) => {
    if (!confirm(t('keys.confirmRevoke', { name: k.name }))) return;
    try {
      await del(`/api/v1/api-keys/${k.id}`);
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  const state = (k: ApiKey) =>
    k.revoked_at ? 'revoked' : k.expires_at && new Date(k.expires_at).getTime() < Date.now() ? 'expired' : 'active';

  return (
    <section>
      <PageHeader title={t('keys.title')} />
      <form class="card form inline-form" onSubmit={create} data-testid="key-create-form">
        <h2>{t('keys.create')}</h2>
        {admin && (
          <label>
            {t('tenant')}
            <select required value={tenantId} onChange={(e) => setTenantId(e.currentTarget.value)} data-testid="key-tenant">
              <option value="">—</option>
              {(tenants.data?.data ?? []).map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </select>
          </label>
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
        <button type="submit" class="btn primary" disabled={busy} data-testid="key-create">
          {t('keys.createBtn')}
        </button>
      </form>
      {created?.key && (
        <div class="card notice" role="status" data-testid="key-created">
          <h2>{t('keys.createdTitle', { name: created.name })}</h2>
          <p>{t('keys.shownOnce')}</p>
          <CopyField value={created.key} label={t('keys.secret')} testid="key-secret" />
          <button type="button" class="btn small" onClick={() => setCreated(null)}>
            {t('keys.done')}
          </button>
        </div>
      )}
      <ErrorBox error={error ?? keys.error} />
      {keys.loading && !keys.data && <Loading />}
      {keys.data && (
        <div class="table-scroll" tabIndex={0}>
          <table data-testid="keys-table">
            <thead>
              <tr>
                <th scope="col">{t('name')}</th>
                <th scope="col">{t('keys.prefix')}</th>
                <th scope="col">{t('status')}</th>
                <th scope="col">{t('created')}</th>
                <th scope="col">{t('keys.expires')}</th>
                <th scope="col">{t('keys.lastUsed')}</th>
                <th scope="col">
                  <span class="sr-only">{t('actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.data.length === 0 && (
                <tr>
                  <td colSpan={7} class="muted">
                    {t('keys.empty')}
                  </td>
                </tr>
              )}
              {keys.data.data.map((k) => (
                <tr key={k.id} data-testid={`key-row-${k.name}`}>
                  <td>{k.name}</td>
                  <td class="mono">{k.prefix}…</td>
                  <td>
                    <StateBadge state={state(k)} />
                  </td>
                  <td>{i.date(k.created_at)}</td>
                  <td>{k.expires_at ? i.date(k.expires_at) : t('keys.never')}</td>
                  <td>{k.last_used_at ? i.date(k.last_used_at) : '—'}</td>
                  <td>
                    {!k.revoked_at && (
                      <div class="row-actions">
                        <button
                          type="button"
                          class="btn small"
                          onClick={() => setEditing(k)}
                          data-testid={`key-edit-${k.name}`}
                          aria-label={`${t('keys.limits')}: ${k.name}`}
                        >
                          {t('keys.limits')}
                        </button>
                        <button
                          type="button"
                          class="btn small danger"
                          onClick={() => revoke(k)}
                          data-testid={`key-revoke-${k.name}`}
                          aria-label={`${t('keys.revoke')}: ${k.name}`}
                        >
                          {t('keys.revoke')}
                        </button>
                      </div>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && <KeyEditDialog apiKey={editing} onClose={() => setEditing(null)} onSaved={keys.reload} />}
    </section>
  );
}
