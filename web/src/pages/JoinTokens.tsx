import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { loadJson, saveJson, useApi } from '../lib/hooks';
import { del, get, post, type Center, type JoinToken, type List } from '../lib/api';
import { CopyField, ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';

const SCHED_KEY = 'scn.schedulerUrl';

/** The exact command an operator runs on a new node. */
export function agentCommand(schedulerUrl: string, token: string, nodeName: string): string {
  // Without --name the agent takes the host name.
  return `scn agent --scheduler ${schedulerUrl || '<SCHEDULER_URL>'} --join-token ${token}${nodeName ? ` --name ${nodeName}` : ''}`;
}

export function JoinTokensPage() {
  const i = useI18n();
  const { t } = i;
  const centers = useApi<List<Center>>('/api/v1/centers');
  const [centerId, setCenterId] = useState('');
  const tokens = useApi<List<JoinToken>>(centerId ? `/api/v1/centers/${centerId}/join-tokens` : null);
  const [ttlHours, setTtlHours] = useState('1');
  const [maxUses, setMaxUses] = useState('');
  const [created, setCreated] = useState<JoinToken | null>(null);
  const [schedulerUrl, setSchedulerUrl] = useState<string>(() => loadJson(localStorage, SCHED_KEY, ''));
  const [nodeName, setNodeName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const list = centers.data?.data ?? [];
    if (!centerId && list.length) setCenterId(list[0].id);
  }, [centers.data]);
  useEffect(() => {
    // The broker publishes the scheduler's URL for agents (GET /api/v1/config);
    // when it has none, the operator's last entry is used.
    get<{ scheduler_url?: string }>('/api/v1/config')
      .then((c) => c.scheduler_url && setSchedulerUrl(c.scheduler_url))
      .catch(() => {});
  }, []);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, number> = { ttl_seconds: Math.round(Number(ttlHours) * 3600) };
      if (maxUses.trim()) body.max_uses = Number(maxUses);
      const tok = await post<JoinToken>(`/api/v1/centers/${centerId}/join-tokens`, body);
      setCreated(tok);
      tokens.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (tok: JoinToken) => {
    try {
      await del(`/api/v1/centers/${centerId}/join-tokens/${tok.id}`);
      tokens.reload();
    } catch (err) {
      setError(err);
    }
  };
  const state = (x: JoinToken) =>
    x.revoked_at ? 'revoked' : new Date(x.expires_at).getTime() < Date.now() ? 'expired' : x.max_uses !== null && (x.uses ?? 0) >= x.max_uses ? 'used' : 'active';

  return (
    <section>
      <PageHeader title={t('tokens.title')} />
      <div class="card">
        <form class="form inline-form" onSubmit={create} data-testid="token-create-form">
          {(centers.data?.data.length ?? 0) > 1 && (
            <label>
              {t('center')}
              <select value={centerId} onChange={(e) => setCenterId(e.currentTarget.value)} data-testid="token-center">
                {centers.data!.data.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label>
            {t('tokens.ttlHours')}
            <input type="number" min={0.02} max={720} step="any" required value={ttlHours} data-testid="token-ttl" onInput={(e) => setTtlHours(e.currentTarget.value)} />
          </label>
          <label>
            {t('tokens.maxUses')}
            <input type="number" min={1} max={1000000} value={maxUses} placeholder={t('tokens.unlimited')} data-testid="token-max-uses" onInput={(e) => setMaxUses(e.currentTarget.value)} />
          </label>
          <button type="submit" class="btn primary" disabled={busy || !centerId} data-testid="token-create">
            {t('tokens.create')}
          </button>
        </form>
      </div>
      {created?.token && (
        <div class="card notice" role="status" data-testid="token-created">
          <h2>{t('tokens.createdTitle')}</h2>
          <p>{t('tokens.shownOnce', { at: i.date(created.expires_at) })}</p>
          <div class="row">
            <label>
              {t('tokens.schedulerUrl')}
              <input
                type="url"
                value={schedulerUrl}
                placeholder="http://scheduler.example:7000"
                data-testid="token-scheduler-url"
                onInput={(e) => {
                  setSchedulerUrl(e.currentTarget.value);
                  saveJson(localStorage, SCHED_KEY, e.currentTarget.value);
                }}
              />
            </label>
            <label>
              {t('tokens.nodeName')}
              <input
                value={nodeName}
                pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
                placeholder={t('tokens.nodeNameDefault')}
                data-testid="token-node-name"
                onInput={(e) => setNodeName(e.currentTarget.value)}
              />
            </label>
          </div>
          <p class="small">{t('tokens.runThis')}</p>
          <CopyField value={agentCommand(schedulerUrl.trim(), created.token, nodeName.trim())} label={t('tokens.command')} testid="token-command" />
          <button type="button" class="btn small" onClick={() => setCreated(null)}>
            {t('keys.done')}
          </button>
        </div>
      )}
      <ErrorBox error={error ?? tokens.error} />
      {tokens.loading && !tokens.data && <Loading />}
      {tokens.data && (
        <div class="table-scroll" tabIndex={0}>
          <table data-testid="tokens-table">
            <thead>
              <tr>
                <th scope="col">{t('keys.prefix')}</th>
                <th scope="col">{t('status')}</th>
                <th scope="col">{t('created')}</th>
                <th scope="col">{t('keys.expires')}</th>
                <th scope="col" class="num">{t('tokens.uses')}</th>
                <th scope="col">
                  <span class="sr-only">{t('actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.data.length === 0 && (
                <tr>
                  <td colSpan={6} class="muted">
                    {t('tokens.empty')}
                  </td>
                </tr>
              )}
              {tokens.data.data.map((x) => (
                <tr key={x.id} data-testid="token-row">
                  <td class="mono">{x.prefix}…</td>
                  <td>
                    <StateBadge state={state(x)} />
                  </td>
                  <td>{i.date(x.created_at)}</td>
                  <td>{i.date(x.expires_at)}</td>
                  <td class="num">
                    {i.num(x.uses ?? 0)}
                    {x.max_uses !== null ? ` / ${i.num(x.max_uses)}` : ''}
                  </td>
                  <td>
                    {!x.revoked_at && (
                      <button type="button" class="btn small danger" data-testid="token-revoke" onClick={() => revoke(x)}>
                        {t('tokens.revoke')}
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
