import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { loadJson, saveJson, useApi } from '../lib/hooks';
import { del, get, post, type Center, type JoinToken, type List } from '../lib/api';
import { useSubmit } from '../lib/submit';
import { CopyField, ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';
import { DataTable, RowButton } from '../components/DataTable';
import { SelectField, ShowOnce } from '../components/forms';

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
  const submit = useSubmit();

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

  const create = (e: Event) => {
    e.preventDefault();
    const body: Record<string, number> = { ttl_seconds: Math.round(Number(ttlHours) * 3600) };
    if (maxUses.trim()) body.max_uses = Number(maxUses);
    submit.run(async () => {
      setCreated(await post<JoinToken>(`/api/v1/centers/${centerId}/join-tokens`, body));
      tokens.reload();
    });
  };
  const revoke = (tok: JoinToken) =>
    submit.run(async () => {
      await del(`/api/v1/centers/${centerId}/join-tokens/${tok.id}`);
      tokens.reload();
    });
  const state = (x: JoinToken) =>
    x.revoked_at ? 'revoked' : new Date(x.expires_at).getTime() < Date.now() ? 'expired' : x.max_uses !== null && (x.uses ?? 0) >= x.max_uses ? 'used' : 'active';

  return (
    <section>
      <PageHeader title={t('tokens.title')} />
      <div class="card">
        <form class="form inline-form" onSubmit={create} data-testid="token-create-form">
          {(centers.data?.data.length ?? 0) > 1 && (
            <SelectField label={t('center')} none={null} value={centerId} onChange={setCenterId} options={centers.data!.data} testid="token-center" />
          )}
          <label>
            {t('tokens.ttlHours')}
            <input type="number" min={0.02} max={720} step="any" required value={ttlHours} data-testid="token-ttl" onInput={(e) => setTtlHours(e.currentTarget.value)} />
          </label>
          <label>
            {t('tokens.maxUses')}
            <input type="number" min={1} max={1000000} value={maxUses} placeholder={t('tokens.unlimited')} data-testid="token-max-uses" onInput={(e) => setMaxUses(e.currentTarget.value)} />
          </label>
          <button type="submit" class="btn primary" disabled={submit.busy || !centerId} data-testid="token-create">
            {t('tokens.create')}
          </button>
        </form>
      </div>
      {created?.token && (
        <ShowOnce
          title={t('tokens.createdTitle')}
          note={t('tokens.shownOnce', { at: i.date(created.expires_at) })}
          testid="token-created"
          onDone={() => setCreated(null)}
        >
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
        </ShowOnce>
      )}
      <ErrorBox error={submit.error ?? tokens.error} />
      {tokens.loading && !tokens.data && <Loading />}
      {tokens.data && (
        <DataTable
          testid="tokens-table"
          caption={t('tokens.title')}
          rows={tokens.data.data}
          rowKey={(x) => x.id}
          rowTestid={() => 'token-row'}
          empty={t('tokens.empty')}
          columns={[
            { head: t('keys.prefix'), class: 'mono', cell: (x) => `${x.prefix}…` },
            { head: t('status'), cell: (x) => <StateBadge state={state(x)} /> },
            { head: t('created'), cell: (x) => i.date(x.created_at) },
            { head: t('keys.expires'), cell: (x) => i.date(x.expires_at) },
            { head: t('tokens.uses'), num: true, cell: (x) => `${i.num(x.uses ?? 0)}${x.max_uses !== null ? ` / ${i.num(x.max_uses)}` : ''}` },
          ]}
          actions={(x) =>
            !x.revoked_at && (
              <RowButton label={t('tokens.revoke')} name={`${x.prefix}…`} danger disabled={submit.busy} onClick={() => revoke(x)} testid="token-revoke" />
            )}
        />
      )}
    </section>
  );
}
