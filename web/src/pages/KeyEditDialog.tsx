// Edits an API key's own limits and service scope (GET, PATCH
// /api/v1/api-keys/{id}); the key's secret never changes.
import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { get, patch, type ApiKey, type List, type Service } from '../lib/api';
import { formToLimits, limitsToForm, type LimitsForm } from '../lib/limits';
import { ErrorBox, Loading, Modal } from '../components/ui';
import { LimitInputs } from './LimitInputs';

export function KeyEditDialog({ apiKey, onClose, onSaved }: { apiKey: ApiKey; onClose: () => void; onSaved: () => void }) {
  const i = useI18n();
  const { t } = i;
  const [loaded, setLoaded] = useState<ApiKey | null>(null);
  const [form, setForm] = useState<LimitsForm>(limitsToForm(null));
  const [all, setAll] = useState(true);
  const [scope, setScope] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const services = useApi<List<Service>>('/api/v1/services');
  const choices = (services.data?.data ?? []).filter((s) => s.status !== 'deleted' && s.tenant_id === apiKey.tenant_id);

  useEffect(() => {
    get<ApiKey>(`/api/v1/api-keys/${apiKey.id}`)
      .then((k) => {
        setLoaded(k);
        setForm(limitsToForm(k.limits));
        setAll(!k.services);
        setScope((k.services ?? []).map((s) => s.id));
      })
      .catch(setError);
  }, [apiKey.id]);

  // The form appears once loaded: move the focus into it (the dialog focused its close button).
  useEffect(() => {
    if (loaded) document.querySelector<HTMLInputElement>('[data-testid="key-edit-requests_per_minute"]')?.focus();
  }, [loaded]);

  const save = async (e: Event) => {
    e.preventDefault();
    const { limits, bad } = formToLimits(form);
    if (bad) {
      setError(new Error(t('limits.bad', { field: t(`limits.${bad}`) })));
      return;
    }
    if (!all && scope.length === 0) {
      setError(new Error(t('keys.scopeEmpty')));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await patch(`/api/v1/api-keys/${apiKey.id}`, { limits, services: all ? null : scope });
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={t('keys.editTitle', { name: apiKey.name })} onClose={onClose}>
      {!loaded && !error && <Loading />}
      {!loaded && <ErrorBox error={error} />}
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
          {loaded && loaded.monthly_tokens_used !== null && loaded.monthly_tokens_used !== undefined && (
            <p class="small muted">{t('limits.used', { n: i.num(loaded.monthly_tokens_used) })}</p>
          )}
          <ErrorBox error={error} />
          <div class="form-actions">
            <button type="button" class="btn" onClick={onClose}>
              {t('cancel')}
            </button>
            <button type="submit" class="btn primary" disabled={busy || !loaded} data-testid="key-edit-save">
              {t('save')}
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}
