import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { en, type MessageKey } from '../i18n/en';
import { get, type AuditRow, type List } from '../lib/api';
import { auditOutcomes, auditUrl, emptyAuditFilter, type AuditFilter } from '../lib/audit';
import { DataTable } from '../components/DataTable';
import { ErrorBox, Loading, PageHeader } from '../components/ui';

const kPage = 200;

export function AuditPage() {
  const i = useI18n();
  const { t } = i;
  const [rows, setRows] = useState<AuditRow[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [done, setDone] = useState(false);
  // What the form shows, and what the loaded rows were filtered by (the server filters).
  const [draft, setDraft] = useState<AuditFilter>(emptyAuditFilter);
  const [applied, setApplied] = useState<AuditFilter>(emptyAuditFilter);
  const [actions, setActions] = useState<string[]>([]);
  const [targets, setTargets] = useState<string[]>([]);

  const load = async (f: AuditFilter, before?: number) => {
    setLoading(true);
    try {
      const r = await get<List<AuditRow>>(auditUrl(f, kPage, before));
      setRows((old) => (before ? [...old, ...r.data] : r.data));
      setApplied(f);
      setDone(r.data.length < kPage);
      setError(null);
      // Suggestions for the text filters: every action and target seen so far.
      setActions((old) => [...new Set([...old, ...r.data.map((x) => x.action)])].sort());
      setTargets((old) => [...new Set([...old, ...r.data.map((x) => x.target_kind).filter(Boolean)])].sort());
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load(emptyAuditFilter);
  }, []);

  const outcomeLabel = (o: string) => {
    const key = `audit.outcome.${o}` as MessageKey;
    return key in en ? t(key) : o;
  };
  const set = (patch: Partial<AuditFilter>) => setDraft({ ...draft, ...patch });

  return (
    <section>
      <PageHeader title={t('audit.title')}>
        <button type="button" class="btn" onClick={() => load(applied)} data-testid="audit-refresh">
          {t('refresh')}
        </button>
      </PageHeader>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          load(draft);
        }}
      >
        <label>
          {t('audit.action')}
          <input
            type="search"
            list="audit-actions"
            value={draft.action}
            placeholder={t('audit.actionHint')}
            onInput={(e) => set({ action: e.currentTarget.value })}
            data-testid="audit-action"
          />
          <datalist id="audit-actions">
            {actions.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <label>
          {t('audit.target')}
          <input
            type="search"
            list="audit-targets"
            value={draft.target_kind}
            onInput={(e) => set({ target_kind: e.currentTarget.value })}
            data-testid="audit-target"
          />
          <datalist id="audit-targets">
            {targets.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <label>
          {t('audit.outcome')}
          <select
            value={draft.outcome}
            onChange={(e) => {
              const f = { ...draft, outcome: e.currentTarget.value };
              setDraft(f);
              load(f);
            }}
            data-testid="audit-outcome"
          >
            <option value="">{t('all')}</option>
            {auditOutcomes.map((a) => (
              <option key={a} value={a}>
                {outcomeLabel(a)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('audit.actor')}
          <input
            type="search"
            value={draft.actor}
            placeholder={t('audit.actorHint')}
            onInput={(e) => set({ actor: e.currentTarget.value })}
            data-testid="audit-actor"
          />
        </label>
        <button type="submit" class="btn" data-testid="audit-apply">
          {t('audit.apply')}
        </button>
      </form>
      <ErrorBox error={error} />
      <p class="small muted">{t('audit.count', { n: rows.length })}</p>
      <DataTable
        testid="audit-table"
        caption={t('audit.title')}
        rows={rows}
        rowKey={(r) => r.id}
        rowTestid={() => 'audit-row'}
        columns={[
          { head: t('audit.at'), cell: (r) => i.date(r.at) },
          {
            head: t('audit.actor'),
            cell: (r) => (
              <>
                {r.actor_name} <span class="small muted">({r.actor_kind})</span>
              </>
            ),
          },
          { head: t('audit.action'), class: 'mono', cell: (r) => r.action },
          {
            head: t('audit.target'),
            cell: (r) => (
              <>
                {r.target_kind}
                {r.target_id && <div class="small muted mono">{r.target_id}</div>}
              </>
            ),
          },
          { head: t('audit.outcome'), cell: (r) => <span class={`badge ${r.outcome === 'ok' ? 'ok' : 'bad'}`}>{outcomeLabel(r.outcome)}</span> },
          {
            head: t('audit.details'),
            class: 'small details-cell',
            cell: (r) => (
              <>
                {r.client_ip && <span class="mono">{r.client_ip} </span>}
                {Object.keys(r.details ?? {}).length > 0 && (
                  <details>
                    <summary>{t('audit.showDetails')}</summary>
                    <pre class="mono">{JSON.stringify(r.details, null, 1)}</pre>
                  </details>
                )}
              </>
            ),
          },
        ]}
      />
      {loading && <Loading />}
      {!done && !loading && rows.length > 0 && (
        <button type="button" class="btn" onClick={() => load(applied, rows[rows.length - 1].id)} data-testid="audit-more">
          {t('audit.more')}
        </button>
      )}
    </section>
  );
}
