// Edits a tenant's quotas and rate limits (GET/PUT /api/v1/tenants/{id}/limits):
// max replicas, max GPUs, requests and tokens per minute, concurrent
// requests, monthly token budget (empty: unlimited).
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { api, type Tenant } from '../lib/api';
import { useFormLoad } from '../lib/hooks';
import { formToLimits, limitsToForm, type LimitsForm, type TenantLimits } from '../lib/limits';
import { useSubmit } from '../lib/submit';
import { ErrorBox, Loading, Modal } from '../components/ui';
import { FormActions } from '../components/forms';
import { LimitInputs } from './LimitInputs';

export function TenantLimitsDialog({ tenant, onClose, onSaved }: { tenant: Tenant; onClose: () => void; onSaved: () => void }) {
  const i = useI18n();
  const { t } = i;
  const [form, setForm] = useState<LimitsForm>(limitsToForm(null));
  const [maxReplicas, setMaxReplicas] = useState('');
  const [maxGpus, setMaxGpus] = useState('');
  const submit = useSubmit();

  const loaded = useFormLoad<TenantLimits>(
    `/api/v1/tenants/${tenant.id}/limits`,
    (l) => {
      setForm(limitsToForm(l));
      setMaxReplicas(String(l.max_replicas));
      setMaxGpus(l.max_gpus === null ? '' : String(l.max_gpus));
    },
    submit.setError,
    '[data-testid="limits-max_replicas"]',
  );

  const save = (e: Event) => {
    e.preventDefault();
    const { limits, bad } = formToLimits(form);
    if (bad) return submit.fail(t('limits.bad', { field: t(`limits.${bad}`) }));
    const body: Record<string, unknown> = { ...limits, max_gpus: maxGpus.trim() === '' ? null : Number(maxGpus) };
    if (maxReplicas.trim() !== '') body.max_replicas = Number(maxReplicas);
    submit.run(async () => {
      await api('PUT', `/api/v1/tenants/${tenant.id}/limits`, body);
      onSaved();
      onClose();
    });
  };

  return (
    <Modal title={t('limits.tenantTitle', { name: tenant.name })} onClose={onClose}>
      {!loaded && !submit.error && <Loading />}
      {!loaded && <ErrorBox error={submit.error} />}
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
          {loaded.monthly_tokens_used !== null && (
            <p class="small muted" data-testid="limits-used">
              {t('limits.used', { n: i.num(loaded.monthly_tokens_used) })}
            </p>
          )}
          <ErrorBox error={submit.error} />
          <FormActions onCancel={onClose} submitLabel={t('save')} busy={submit.busy} testid="limits-save" />
        </form>
      )}
    </Modal>
  );
}

