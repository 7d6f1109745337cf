import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { en, type MessageKey } from '../i18n/en';
import { get, type AuditRow, type List } from '../lib/api';
import { ErrorBox, Loading, PageHeader } from '../components/ui';

export function AuditPage() {
  const i = useI18n();
  const { t } = i;
  const [rows, setRows] = useState<AuditRow[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [done, setDone] = useState(false);
  const [action, setAction] = useState('');
  const [actor, setActor] = useState('');
  const [outcome, setOutcome] = useState('');
  const [target, setTarget] = useState('');

  const load = async (before?: number) => {
    setLoading(true);
    try {
      const r = await get<List<AuditRow>>(`/api/v1/audit?limit=200${before ? `&before_id=${before}` : ''}`);
      setRows((old) => (before ? [...old, ...r.data] : r.data));
      setDone(r.data.length < 200);
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load();
  }, []);

  const outcomeLabel = (o: string) => {
    const key = `audit.outcome.${o}` as MessageKey;
    return key in en ? t(key) : o;
  };
  const actions = [...new Set(rows.map((r) => r.action))].sort();
  const targets = [...new Set(rows.map((r) => r.target_kind))].sort();
  const outcomes = [...new Set(rows.map((r) => r.outcome))].sort();
  const shown = rows.filter(
    (r) =>
      (!action || r.action === action) &&
      (!target || r.target_kind === target) &&
      (!outcome || r.outcome === outcome) &&
      (!actor || r.actor_name.toLowerCase().includes(actor.toLowerCase())),
  );

  return (
    <section>
      <PageHeader title={t('audit.title')}>
        <button type="button" class="btn" onClick={() => load()} data-testid="audit-refresh">
          {t('refresh')}
        </button>
      </PageHeader>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          {t('audit.action')}
          <select value={action} onChange={(e) => setAction(e.currentTarget.value)} data-testid="audit-action">
            <option value="">{t('all')}</option>
            {actions.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          {t('audit.target')}
          <select value={target} onChange={(e) => setTarget(e.currentTarget.value)} data-testid="audit-target">
            <option value="">{t('all')}</option>
            {targets.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          {t('audit.outcome')}
          <select value={outcome} onChange={(e) => setOutcome(e.currentTarget.value)} data-testid="audit-outcome">
            <option value="">{t('all')}</option>
            {outcomes.map((a) => (
              <option key={a} value={a}>
                {outcomeLabel(a)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('audit.actor')}
          <input type="search" value={actor} onInput={(e) => setActor(e.currentTarget.value)} data-testid="audit-actor" />
        </label>
      </form>
      <ErrorBox error={error} />
      <p class="small muted">{t('audit.count', { n: shown.length, total: rows.length })}</p>
      <div class="table-scroll">
        <table data-testid="audit-table">
          <thead>
            <tr>
              <th scope="col">{t('audit.at')}</th>
              <th scope="col">{t('audit.actor')}</th>
              <th scope="col">{t('audit.action')}</th>
              <th scope="col">{t('audit.target')}</th>
              <th scope="col">{t('audit.outcome')}</th>
              <th scope="col">{t('audit.details')}</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.id} data-testid="audit-row">
                <td>{i.date(r.at)}</td>
                <td>
                  {r.actor_name} <span class="small muted">({r.actor_kind})</span>
                </td>
                <td class="mono">{r.action}</td>
                <td>
                  {r.target_kind}
                  {r.target_id && <div class="small muted mono">{r.target_id}</div>}
                </td>
                <td>
                  <span class={`badge ${r.outcome === 'ok' ? 'ok' : 'bad'}`}>{outcomeLabel(r.outcome)}</span>
                </td>
                <td class="small details-cell">
                  {r.client_ip && <span class="mono">{r.client_ip} </span>}
                  {Object.keys(r.details ?? {}).length > 0 && (
                    <details>
                      <summary>{t('audit.showDetails')}</summary>
                      <pre class="mono">{JSON.stringify(r.details, null, 1)}</pre>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {loading && <Loading />}
      {!done && !loading && rows.length > 0 && (
        <button type="button" class="btn" onClick={() => load(rows[rows.length - 1].id)} data-testid="audit-more">
          {t('audit.more')}
        </button>
      )}
    </section>
  );
}
