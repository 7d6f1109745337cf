// Edits a tenant's quotas and rate limits (GET/PUT /api/v1/tenants/{id}/limits):
// max replicas, max GPUs, requests and tokens per minute, concurrent
// requests, monthly token budget (empty: unlimited).
import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { api, get, type Tenant } from '../lib/api';
import { formToLimits, limitsToForm, type LimitsForm, type TenantLimits } from '../lib/limits';
import { ErrorBox, Loading, Modal } from '../components/ui';
import { LimitInputs } from './LimitInputs';

export function TenantLimitsDialog({ tenant, onClose, onSaved }: { tenant: Tenant; onClose: () => void; onSaved: () => void }) {
  const i = useI18n();
  const { t } = i;
  const [loaded, setLoaded] = useState<TenantLimits | null>(null);
  const [form, setForm] = useState<LimitsForm>(limitsToForm(null));
  const [maxReplicas, setMaxReplicas] = useState('');
  const [maxGpus, setMaxGpus] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    get<TenantLimits>(`/api/v1/tenants/${tenant.id}/limits`)
      .then((l) => {
        setLoaded(l);
        setForm(limitsToForm(l));
        setMaxReplicas(String(l.max_replicas));
        setMaxGpus(l.max_gpus === null ? '' : String(l.max_gpus));
      })
      .catch(setError);
  }, [tenant.id]);

  // The form appears once loaded: move the focus into it (the dialog focused its close button).
  useEffect(() => {
    if (loaded) document.querySelector<HTMLInputElement>('[data-testid="limits-max_replicas"]')?.focus();
  }, [loaded]);

  const save = async (e: Event) => {
    e.preventDefault();
    const { limits, bad } = formToLimits(form);
    if (bad) {
      setError(new Error(t('limits.bad', { field: t(`limits.${bad}`) })));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { ...limits, max_gpus: maxGpus.trim() === '' ? null : Number(maxGpus) };
      if (maxReplicas.trim() !== '') body.max_replicas = Number(maxReplicas);
      await api('PUT', `/api/v1/tenants/${tenant.id}/limits`, body);
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={t('limits.tenantTitle', { name: tenant.name })} onClose={onClose}>
      {!loaded && !error && <Loading />}
      {!loaded && <ErrorBox error={error} />}
      {loaded && (
        <form class="form" onSubmit={save} data-testid="tenant-limits-form">
          <div class="row">
            <label>
              {t('tenants.maxReplicas')}
              <input type="number" min={0} max={10000} required value={maxReplicas} onInput={(e) => setMaxReplicas(e.currentTarget.value)} data-testid="limits-max_replicas" />
            </label>
            <label>
              {t('limits.maxGpus')}
              <input type="number" min={0} value={maxGpus} placeholder={t('limits.unlimited')} onInput={(e) => setMaxGpus(e.currentTarget.value)} data-testid="limits-max_gpus" />
            </label>
          </div>
          <LimitInputs form={form} onChange={setForm} />
          {loaded && loaded.monthly_tokens_used !== null && (
            <p class="small muted" data-testid="limits-used">
              {t('limits.used', { n: i.num(loaded.monthly_tokens_used) })}
            </p>
          )}
          <ErrorBox error={error} />
          <div class="form-actions">
            <button type="button" class="btn" onClick={onClose}>
              {t('cancel')}
            </button>
            <button type="submit" class="btn primary" disabled={busy || !loaded} data-testid="limits-save">
              {t('save')}
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}

