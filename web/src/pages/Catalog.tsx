import { useMemo, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import type { FilePresence, List, ModelCard } from '../lib/api';
import {
  bytesForContext,
  defaultContext,
  emptyFilter,
  filterCards,
  weightsIn,
  type CatalogFilter,
  type SizeBucket,
} from '../lib/catalog';
import { ErrorBox, Loading, PageHeader } from '../components/ui';
import { LaunchDialog } from './LaunchDialog';
import { SelectField } from '../components/forms';

export function CatalogPage() {
  const i = useI18n();
  const { t } = i;
  const cards = useApi<List<ModelCard>>('/api/v1/catalog/models');
  const [f, setF] = useState<CatalogFilter>(emptyFilter);
  const [launch, setLaunch] = useState<ModelCard | null>(null);

  const all = cards.data?.data ?? [];
  const families = useMemo(() => [...new Set(all.map((c) => c.family))].sort(), [all]);
  const quants = useMemo(() => [...new Set(all.flatMap((c) => c.files.map((x) => x.quantization)))].sort(), [all]);
  // Models whose weights are in the pool come first (a stable sort keeps the catalog's order).
  const shown = filterCards(all, f)
    .map((c, k) => ({ c, k, p: c.files.some((x) => x.weights_present) ? 0 : 1 }))
    .sort((a, b) => a.p - b.p || a.k - b.k)
    .map((x) => x.c);
  const set = (patch: Partial<CatalogFilter>) => setF({ ...f, ...patch });
  const centers = (ps: FilePresence[]) =>
    ps
      .map((p) =>
        t(p.nodes === 1 ? 'catalog.centerNodes.one' : 'catalog.centerNodes.other', { name: p.center_name, n: i.num(p.nodes) }),
      )
      .join(', ');

  return (
    <section>
      <PageHeader title={t('catalog.title')} />
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          {t('catalog.search')}
          <input type="search" value={f.q} data-testid="catalog-search" onInput={(e) => set({ q: e.currentTarget.value })} />
        </label>
        <SelectField
          label={t('catalog.family')}
          value={f.family}
          onChange={(v) => set({ family: v })}
          options={families.map((x) => ({ id: x, name: x }))}
          none={t('all')}
          testid="catalog-family"
        />
        <label>
          {t('catalog.size')}
          <select value={f.size} data-testid="catalog-size" onChange={(e) => set({ size: e.currentTarget.value as SizeBucket })}>
            <option value="">{t('all')}</option>
            <option value="lt3">{t('catalog.size.lt3')}</option>
            <option value="3to10">{t('catalog.size.3to10')}</option>
            <option value="10to40">{t('catalog.size.10to40')}</option>
            <option value="gt40">{t('catalog.size.gt40')}</option>
          </select>
        </label>
        <SelectField
          label={t('catalog.quant')}
          value={f.quant}
          onChange={(v) => set({ quant: v })}
          options={quants.map((x) => ({ id: x, name: x }))}
          none={t('all')}
          testid="catalog-quant"
        />
        <label>
          {t('catalog.context')}
          <select
            value={String(f.minContext)}
            data-testid="catalog-context"
            onChange={(e) => set({ minContext: Number(e.currentTarget.value) })}
          >
            <option value="0">{t('all')}</option>
            {[4096, 8192, 32768, 131072].map((n) => (
              <option key={n} value={n}>
                ≥ {i.num(n)}
              </option>
            ))}
          </select>
        </label>
        <label class="check">
          <input
            type="checkbox"
            checked={f.presentOnly}
            data-testid="catalog-present-only"
            onChange={(e) => set({ presentOnly: e.currentTarget.checked })}
          />
          {t('catalog.presentOnly')}
        </label>
      </form>
      <ErrorBox error={cards.error} />
      {cards.loading && !cards.data && <Loading />}
      <p class="muted" aria-live="polite">
        {t('catalog.count', { n: shown.length, total: all.length })}
      </p>
      <div class="cards">
        {shown.map((c) => {
          const present = c.files.some((x) => x.weights_present);
          const ctx = defaultContext(c);
          const where = weightsIn(c);
          return (
            <article class="card model" key={c.id} data-testid={`model-card-${c.name}`}>
              <header>
                <h2>{c.display_name}</h2>
                <span class={`badge ${present ? 'ok' : 'muted'}`} data-testid="weights-badge">
                  {present ? t('catalog.weightsPresent') : t('catalog.weightsAbsent')}
                </span>
              </header>
              <p class="mono small">{c.name}</p>
              <dl class="facts">
                <dt>{t('catalog.family')}</dt>
                <dd>{c.family}</dd>
                <dt>{t('catalog.params')}</dt>
                <dd>{i.count(c.parameters)}</dd>
                <dt>{t('catalog.contextLen')}</dt>
                <dd>{i.num(c.context_length)}</dd>
                <dt>{t('catalog.licence')}</dt>
                <dd>{c.licence}</dd>
              </dl>
              {where.length > 0 && (
                <p class="small" data-testid="weights-in">
                  {t('catalog.weightsIn', { list: centers(where) })}
                </p>
              )}
              {c.description && <p class="small">{c.description}</p>}
              <div class="table-scroll" tabIndex={0}>
                <table class="compact">
                  <caption class="sr-only">{t('catalog.files')}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t('catalog.quant')}</th>
                      <th scope="col">{t('catalog.fileSize')}</th>
                      <th scope="col">{t('catalog.needAt', { n: i.num(ctx) })}</th>
                      <th scope="col">{t('catalog.needMax')}</th>
                      <th scope="col">{t('catalog.weights')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {c.files.map((x) => (
                      <tr key={x.id}>
                        <td>{x.quantization}</td>
                        <td>
                          {i.bytes(x.size_bytes)}
                          {x.size_source === 'estimated' ? ` (${t('catalog.estimated')})` : ''}
                        </td>
                        <td>{i.bytes(bytesForContext(x, ctx))}</td>
                        <td>{i.bytes(x.requirements.bytes_at_max_context)}</td>
                        <td>
                          {x.weights_present
                            ? x.present_in?.length
                              ? centers(x.present_in)
                              : t('catalog.present')
                            : t('catalog.absent')}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <div class="card-actions">
                <button
                  type="button"
                  class="btn primary"
                  disabled={!present}
                  title={present ? undefined : t('catalog.noWeights')}
                  data-testid={`launch-${c.name}`}
                  onClick={() => setLaunch(c)}
                >
                  {t('catalog.launch')}
                </button>
                {!present && <span class="small muted">{t('catalog.noWeights')}</span>}
              </div>
            </article>
          );
        })}
      </div>
      {launch && <LaunchDialog card={launch} onClose={() => setLaunch(null)} />}
    </section>
  );
}
