// Prices (admin): the price rows (GET /api/v1/prices) and a form that sets
// one (PUT /api/v1/prices): per model ("*": every model) and center (every
// center), CNY per million prompt / cached prompt / completion tokens and per
// replica-hour.
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { api, del, type Center, type List, type ModelCard } from '../lib/api';
import { formatMoney, priceBody, type Price, type PriceFields } from '../lib/billing';
import { useSubmit } from '../lib/submit';
import { ErrorBox, Loading, PageHeader } from '../components/ui';
import { DataTable, RowButton } from '../components/DataTable';
import { FormActions, Notice, SelectField } from '../components/forms';

const EMPTY = { model: '*', center_id: '', prompt_per_million: '', cached_prompt_per_million: '', completion_per_million: '', replica_hour: '' };
const FIELDS: { key: keyof PriceFields; label: 'prices.prompt' | 'prices.cached' | 'prices.completion' | 'prices.replicaHour' }[] = [
  { key: 'prompt_per_million', label: 'prices.prompt' },
  { key: 'cached_prompt_per_million', label: 'prices.cached' },
  { key: 'completion_per_million', label: 'prices.completion' },
  { key: 'replica_hour', label: 'prices.replicaHour' },
];

export function PricesPage() {
  const i = useI18n();
  const { t } = i;
  const prices = useApi<{ data: Price[]; currency: string }>('/api/v1/prices');
  const centers = useApi<List<Center>>('/api/v1/centers');
  const models = useApi<List<ModelCard>>('/api/v1/catalog/models');
  const [form, setForm] = useState({ ...EMPTY });
  const submit = useSubmit();
  const [saved, setSaved] = useState('');
  const set = (k: keyof typeof EMPTY, v: string) => setForm({ ...form, [k]: v });
  const money = (v: string) => formatMoney(v, i.locale, 6);

  // Saving and deleting: the list reloads and the notice says what was done.
  const act = (fn: () => Promise<string>) => {
    setSaved('');
    submit.run(async () => {
      setSaved(await fn());
      prices.reload();
    });
  };
  const save = (e: Event) => {
    e.preventDefault();
    act(async () => {
      const p = await api<Price>('PUT', '/api/v1/prices', priceBody(form));
      return t('prices.saved', { model: p.model === '*' ? t('prices.everyModel') : p.model });
    });
  };
  const remove = (p: Price) => {
    if (!confirm(t('prices.confirmDelete', { model: p.model, center: p.center_name ?? t('prices.everyCenter') }))) return;
    act(async () => {
      await del(`/api/v1/prices/${p.id}`);
      return t('prices.deleted', { model: p.model });
    });
  };
  const edit = (p: Price) => {
    setForm({
      model: p.model,
      center_id: p.center_id ?? '',
      prompt_per_million: p.prompt_per_million,
      cached_prompt_per_million: p.cached_prompt_per_million,
      completion_per_million: p.completion_per_million,
      replica_hour: p.replica_hour,
    });
    document.getElementById('price-form')?.scrollIntoView();
    document.getElementById('price-model')?.focus();
  };

  return (
    <section>
      <PageHeader title={t('prices.title')} />
      <p class="muted">{t('prices.help')}</p>
      <ErrorBox error={prices.error} />
      {prices.loading && !prices.data && <Loading />}
      {prices.data && (
        <DataTable
          testid="prices-table"
          class="compact"
          caption={t('prices.title')}
          rows={prices.data.data}
          rowKey={(p) => p.id}
          rowTestid={(p) => `price-row-${p.model}-${p.center_name ?? 'all'}`}
          empty={t('prices.empty')}
          columns={[
            { head: t('services.model'), cell: (p) => (p.model === '*' ? t('prices.everyModel') : p.model) },
            { head: t('center'), cell: (p) => p.center_name ?? t('prices.everyCenter') },
            ...FIELDS.map((f) => ({ head: t(f.label), num: true, cell: (p: Price) => money(p[f.key]) })),
            { head: t('prices.updated'), cell: (p) => i.date(p.updated_at) },
          ]}
          actions={(p) => {
            const where = `${p.model} ${p.center_name ?? t('prices.everyCenter')}`;
            return (
              <>
                <RowButton label={t('edit')} name={where} onClick={() => edit(p)} />
                <RowButton
                  label={t('delete')}
                  name={where}
                  danger
                  disabled={submit.busy}
                  onClick={() => remove(p)}
                  testid={`price-delete-${p.model}-${p.center_name ?? 'all'}`}
                    />
                  </>
                );
              }}
        />
      )}
      <form id="price-form" class="card form" onSubmit={save} data-testid="price-form">
        <h2>{t('prices.set')}</h2>
        <div class="row">
          <label>
            {t('services.model')}
            <input
              id="price-model"
              required
              list="price-models"
              value={form.model}
              onInput={(e) => set('model', e.currentTarget.value)}
              data-testid="price-model"
            />
            <span class="hint">{t('prices.modelHint')}</span>
            <datalist id="price-models">
              <option value="*">{t('prices.everyModel')}</option>
              {(models.data?.data ?? []).map((m) => (
                <option key={m.name} value={m.name} />
              ))}
            </datalist>
          </label>
          <SelectField
            label={t('center')}
            value={form.center_id}
            onChange={(v) => set('center_id', v)}
            options={centers.data?.data ?? []}
            none={t('prices.everyCenter')}
            testid="price-center"
          />
        </div>
        <div class="row">
          {FIELDS.map((f) => (
            <label key={f.key}>
              {t(f.label)}
              <input
                inputMode="decimal"
                pattern="\d{1,12}(\.\d{1,6})?"
                placeholder="0"
                value={form[f.key]}
                onInput={(e) => set(f.key, e.currentTarget.value)}
                data-testid={`price-${f.key}`}
              />
            </label>
          ))}
        </div>
        <FormActions onCancel={() => setForm({ ...EMPTY })} cancelLabel={t('reset')} submitLabel={t('save')} busy={submit.busy} testid="price-save" />
        <Notice text={saved} testid="price-saved" />
        <ErrorBox error={submit.error} />
      </form>
    </section>
  );
}
