// Edits an API key's own limits and service scope (GET, PATCH
// /api/v1/api-keys/{id}); the key's secret never changes.
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi, useFormLoad } from '../lib/hooks';
import { patch, type ApiKey, type List, type Service } from '../lib/api';
import { formToLimits, limitsToForm, type LimitsForm } from '../lib/limits';
import { useSubmit } from '../lib/submit';
import { ErrorBox, Loading, Modal } from '../components/ui';
import { FormActions } from '../components/forms';
import { LimitInputs } from './LimitInputs';

export function KeyEditDialog({ apiKey, onClose, onSaved }: { apiKey: ApiKey; onClose: () => void; onSaved: () => void }) {
  const i = useI18n();
  const { t } = i;
  const [form, setForm] = useState<LimitsForm>(limitsToForm(null));
  const [all, setAll] = useState(true);
  const [scope, setScope] = useState<string[]>([]);
  const submit = useSubmit();
  const services = useApi<List<Service>>('/api/v1/services');
  const choices = (services.data?.data ?? []).filter((s) => s.status !== 'deleted' && s.tenant_id === apiKey.tenant_id);

  const loaded = useFormLoad<ApiKey>(
    `/api/v1/api-keys/${apiKey.id}`,
    (k) => {
      setForm(limitsToForm(k.limits));
      setAll(!k.services);
      setScope((k.services ?? []).map((s) => s.id));
    },
    submit.setError,
    '[data-testid="key-edit-requests_per_minute"]',
  );

  const save = (e: Event) => {
    e.preventDefault();
    const { limits, bad } = formToLimits(form);
    if (bad) return submit.fail(t('limits.bad', { field: t(`limits.${bad}`) }));
    if (!all && scope.length === 0) return submit.fail(t('keys.scopeEmpty'));
    submit.run(async () => {
      await patch(`/api/v1/api-keys/${apiKey.id}`, { limits, services: all ? null : scope });
      onSaved();
      onClose();
    });
  };

  return (
    <Modal title={t('keys.editTitle', { name: apiKey.name })} onClose={onClose}>
      {!loaded && !submit.error && <Loading />}
      {!loaded && <ErrorBox error={submit.error} />}
      {loaded && (
        <form class="form" onSubmit={save} data-testid="key-edit-form">
          <LimitInputs form={form} onChange={setForm} prefix="key-edit" />
          <fieldset>
            <legend>{t('keys.scope')}</legend>
            <label class="check">
              <input type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} data-testid="key-edit-all" />
              {t('keys.allServices')}
            </label>
            {!all && (
              <div class="checks">
                {choices.map((s) => (
                  <label class="check" key={s.id}>
                    <input
                      type="checkbox"
                      checked={scope.includes(s.id)}
                      onChange={(e) => setScope(e.currentTarget.checked ? [...scope, s.id] : scope.filter((x) => x !== s.id))}
                    />
                    {s.name}
                  </label>
                ))}
              </div>
            )}
          </fieldset>
          {loaded.monthly_tokens_used !== null && loaded.monthly_tokens_used !== undefined && (
            <p class="small muted">{t('limits.used', { n: i.num(loaded.monthly_tokens_used) })}</p>
          )}
          <ErrorBox error={submit.error} />
          <FormActions onCancel={onClose} submitLabel={t('save')} busy={submit.busy} testid="key-edit-save" />
        </form>
      )}
    </Modal>
  );
}
