import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import { del, post, type ApiKey, type List, type Tenant } from '../lib/api';
import { CopyField, ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';

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

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { name: name.trim() };
      if (days.trim()) body.expires_in_seconds = Math.round(Number(days) * 86400);
      if (admin) body.tenant_id = tenantId;
      const k = await post<ApiKey>('/api/v1/api-keys', body);
      setCreated(k);
      setName('');
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
        <div class="table-scroll">
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
                      <button type="button" class="btn small danger" onClick={() => revoke(k)} data-testid={`key-revoke-${k.name}`}>
                        {t('keys.revoke')}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
