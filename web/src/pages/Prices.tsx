// Prices (admin): the price rows (GET /api/v1/prices) and a form that sets
// one (PUT /api/v1/prices): per model ("*": every model) and center (every
// center), CNY per million prompt / cached prompt / completion tokens and per
// replica-hour.
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { api, del, type Center, type List, type ModelCard } from '../lib/api';
import { formatMoney, priceBody, type Price, type PriceFields } from '../lib/billing';
import { ErrorBox, Loading, PageHeader } from '../components/ui';

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
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof EMPTY, v: string) => setForm({ ...form, [k]: v });
  const money = (v: string) => formatMoney(v, i.locale, 6);

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved('');
    try {
      const p = await api<Price>('PUT', '/api/v1/prices', priceBody(form));
      setSaved(t('prices.saved', { model: p.model === '*' ? t('prices.everyModel') : p.model }));
      prices.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (p: Price) => {
    if (!confirm(t('prices.confirmDelete', { model: p.model, center: p.center_name ?? t('prices.everyCenter') }))) return;
    setBusy(true);
    setError(null);
    setSaved('');
    try {
      await del(`/api/v1/prices/${p.id}`);
      setSaved(t('prices.deleted', { model: p.model }));
      prices.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
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
        <div class="table-scroll" tabIndex={0}>
          <table data-testid="prices-table" class="compact">
            <caption class="sr-only">{t('prices.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('services.model')}</th>
                <th scope="col">{t('center')}</th>
                {FIELDS.map((f) => (
                  <th scope="col" class="num" key={f.key}>
                    {t(f.label)}
                  </th>
                ))}
                <th scope="col">{t('prices.updated')}</th>
                <th scope="col">
                  <span class="sr-only">{t('actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {prices.data.data.length === 0 && (
                <tr>
                  <td colSpan={8} class="muted">
                    {t('prices.empty')}
                  </td>
                </tr>
              )}
              {prices.data.data.map((p) => (
                <tr key={p.id} data-testid={`price-row-${p.model}-${p.center_name ?? 'all'}`}>
                  <td>{p.model === '*' ? t('prices.everyModel') : p.model}</td>
                  <td>{p.center_name ?? t('prices.everyCenter')}</td>
                  {FIELDS.map((f) => (
                    <td class="num" key={f.key}>
                      {money(p[f.key])}
                    </td>
                  ))}
                  <td>{i.date(p.updated_at)}</td>
                  <td>
                    <button type="button" class="btn small" onClick={() => edit(p)} aria-label={`${t('edit')}: ${p.model} ${p.center_name ?? ''}`}>
                      {t('edit')}
                    </button>
                    <button
                      type="button"
                      class="btn small danger"
                      disabled={busy}
                      onClick={() => remove(p)}
                      data-testid={`price-delete-${p.model}-${p.center_name ?? 'all'}`}
                      aria-label={`${t('delete')}: ${p.model} ${p.center_name ?? t('prices.everyCenter')}`}
                    >
                      {t('delete')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
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
          <label>
            {t('center')}
            <select value={form.center_id} onChange={(e) => set('center_id', e.currentTarget.value)} data-testid="price-center">
              <option value="">{t('prices.everyCenter')}</option>
              {(centers.data?.data ?? []).map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
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
        <div class="form-actions">
          <button type="button" class="btn" onClick={() => setForm({ ...EMPTY })}>
            {t('reset')}
          </button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="price-save">
            {t('save')}
          </button>
        </div>
        {saved && (
          <p role="status" class="notice" data-testid="price-saved">
            {saved}
          </p>
        )}
        <ErrorBox error={error} />
      </form>
    </section>
  );
}
