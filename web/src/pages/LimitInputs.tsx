// The four rate-limit inputs (RPM, TPM, concurrent requests, monthly token
// budget) shared by the tenant and API key forms; empty means unlimited.
import { useI18n } from '../i18n';
import { LIMIT_FIELDS, type LimitsForm } from '../lib/limits';

export function LimitInputs({ form, onChange, prefix = 'limits' }: { form: LimitsForm; onChange: (f: LimitsForm) => void; prefix?: string }) {
  const { t } = useI18n();
  return (
    <fieldset>
      <legend>{t('limits.legend')}</legend>
      <div class="row">
        {LIMIT_FIELDS.map((f) => (
          <label key={f}>
            {t(`limits.${f}`)}
            <input
              type="number"
              min={f === 'monthly_token_budget' ? 0 : 1}
              step={1}
              value={form[f]}
              placeholder={t('limits.unlimited')}
              onInput={(e) => onChange({ ...form, [f]: e.currentTarget.value })}
              data-testid={`${prefix}-${f}`}
            />
          </label>
        ))}
      </div>
    </fieldset>
  );
}
