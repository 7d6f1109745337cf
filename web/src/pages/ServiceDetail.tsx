import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi, useNow } from '../lib/hooks';
import { ApiError, del, deviceLabel, post, type Service } from '../lib/api';
import { Link, navigate } from '../lib/router';
import { useSubmit } from '../lib/submit';
import { CopyField, ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';
import { ReplicaProgress, fetchedOf, isFetching, useFetchBytes } from '../components/ReplicaProgress';
import { useAuth } from '../lib/auth';
import { NotFoundPage } from './NotFound';

export function ServiceDetailPage({ params }: { params: Record<string, string> }) {
  const i = useI18n();
  const { t } = i;
  const now = useNow(1000);
  const svc = useApi<Service>(`/api/v1/services/${encodeURIComponent(params.id)}`, 2000);
  const [scaleTo, setScaleTo] = useState<number | null>(null);
  const action = useSubmit();
  const s = svc.data;
  const { user } = useAuth();
  const fetchingNodes = (s?.replicas ?? []).filter(isFetching).map((r) => r.node_id!).filter(Boolean);
  const fetch = useFetchBytes(fetchingNodes, user?.role !== 'member', `${fetchingNodes.join(',')}@${svc.data?.replicas?.map((r) => r.reason).join('|')}@${Math.floor(now / 3000)}`);

  useEffect(() => {
    if (s && scaleTo === null) setScaleTo(s.replicas_wanted);
  }, [s]);

  if (svc.error instanceof ApiError && svc.error.status === 404) return <NotFoundPage message={t('services.notFound')} />;
  if (!s) return svc.error ? <ErrorBox error={svc.error} /> : <Loading />;

  const act = (fn: () => Promise<unknown>) =>
    action.run(async () => {
      await fn();
      svc.reload();
    });
  const baseUrl = `${location.origin}/v1`;
  const replicas = s.replicas ?? [];

  return (
    <section>
      <PageHeader title={s.name}>
        <StateBadge state={s.status} testid="service-state" />
      </PageHeader>
      <p>
        <Link href="/services">← {t('services.back')}</Link>
      </p>
      <ErrorBox error={svc.error} />
      {s.status_reason && (
        <p class="notice" data-testid="service-reason">
          {s.status_reason}
        </p>
      )}
      <div class="grid2">
        <div class="card">
          <h2>{t('services.connect')}</h2>
          <p class="small">{t('services.connectHelp')}</p>
          <div class="kv">
            <span>{t('services.baseUrl')}</span>
            <CopyField value={baseUrl} label={t('services.baseUrl')} testid="service-base-url" />
            <span>{t('services.modelName')}</span>
            <CopyField value={s.name} label={t('services.modelName')} testid="service-model-name" />
          </div>
          {s.status === 'ready' && (
            <p>
              <Link href={`/chat?service=${s.id}`} class="btn" data-testid="open-playground">
                {t('services.openChat')}
              </Link>
            </p>
          )}
        </div>
        <div class="card">
          <h2>{t('services.details')}</h2>
          <dl class="facts">
            <dt>{t('services.model')}</dt>
            <dd>
              {s.model} ({s.quantization})
            </dd>
            <dt>{t('services.context')}</dt>
            <dd>{i.num(s.context_length)}</dd>
            <dt>{t('services.replicas')}</dt>
            <dd data-testid="service-replicas-count">
              {i.num(s.replicas_ready)} / {i.num(s.replicas_wanted)}
            </dd>
            <dt>{t('launch.placement')}</dt>
            <dd class="small">{Object.keys(s.placement ?? {}).length ? JSON.stringify(s.placement) : t('launch.anyRegion')}</dd>
            <dt>{t('created')}</dt>
            <dd>{i.date(s.created_at)}</dd>
          </dl>
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              act(() => post(`/api/v1/services/${s.id}/scale`, { replicas: scaleTo ?? 0 }));
            }}
          >
            <label>
              {t('services.scaleTo')}
              <input
                type="number"
                min={0}
                value={scaleTo ?? 0}
                data-testid="scale-input"
                onInput={(e) => setScaleTo(Number(e.currentTarget.value))}
              />
            </label>
            <button type="submit" class="btn" disabled={action.busy} data-testid="scale-submit">
              {t('services.scale')}
            </button>
          </form>
          <div class="form-actions">
            <button
              type="button"
              class="btn"
              disabled={action.busy || s.status === 'stopped'}
              data-testid="service-stop"
              onClick={() => act(() => post(`/api/v1/services/${s.id}/stop`))}
            >
              {t('services.stop')}
            </button>
            <button
              type="button"
              class="btn danger"
              disabled={action.busy}
              data-testid="service-delete"
              onClick={() => {
                if (!confirm(t('services.confirmDelete', { name: s.name }))) return;
                act(async () => {
                  await del(`/api/v1/services/${s.id}`);
                  navigate('/services');
                });
              }}
            >
              {t('delete')}
            </button>
          </div>
          <ErrorBox error={action.error} />
        </div>
      </div>
      <h2>{t('services.replicaList')}</h2>
      {replicas.length === 0 && <p class="muted">{t('services.noReplicas')}</p>}
      <ul class="replicas" data-testid="replicas">
        {replicas.map((r) => (
          <li key={r.id} class="card replica" data-testid="replica" data-state={r.state}>
            <div class="replica-head">
              <StateBadge state={r.state} testid="replica-state" />
              <span>
                {r.center_name ?? '—'} / {r.node_name ?? '—'}
              </span>
              {deviceLabel(r.device) && <span class="small muted">{deviceLabel(r.device)}</span>}
              {r.restarts > 0 && <span class="small muted">{t('services.restarts', { n: r.restarts })}</span>}
            </div>
            <ReplicaProgress r={r} now={now} fetched={fetchedOf(r, s.model_file_id, fetch)} />
            {r.reason && (
              <p class="reason small" data-testid="replica-reason">
                <strong>{r.state === 'pending' ? t('services.whyPending') : t('services.whyHere')}:</strong> {r.reason}
              </p>
            )}
            {r.ready_at && <p class="small muted">{t('services.readySince', { at: i.date(r.ready_at) })}</p>}
          </li>
        ))}
      </ul>
    </section>
  );
}
