import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { post, type Center, type List } from '../lib/api';
import { useSubmit } from '../lib/submit';
import { ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';
import { DataTable } from '../components/DataTable';

export function CentersPage() {
  const i = useI18n();
  const { t } = i;
  const centers = useApi<List<Center>>('/api/v1/centers');
  const [name, setName] = useState('');
  const [region, setRegion] = useState('');
  const [gpu, setGpu] = useState('');
  const [cpu, setCpu] = useState('');
  const submit = useSubmit();

  const create = (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = { name: name.trim(), region: region.trim() };
    if (gpu.trim()) body.price_gpu_hour = Number(gpu);
    if (cpu.trim()) body.price_cpu_core_hour = Number(cpu);
    submit.run(async () => {
      await post('/api/v1/centers', body);
      setName('');
      setRegion('');
      centers.reload();
    });
  };

  return (
    <section>
      <PageHeader title={t('centers.title')} />
      <ErrorBox error={centers.error} />
      {centers.loading && !centers.data && <Loading />}
      {centers.data && (
        <DataTable
          testid="centers-table"
          caption={t('centers.title')}
          rows={centers.data.data}
          rowKey={(c) => c.id}
          rowTestid={(c) => `center-row-${c.name}`}
          columns={[
            { head: t('name'), cell: (c) => c.name },
            { head: t('centers.region'), cell: (c) => c.region },
            { head: t('centers.priceGpu'), num: true, cell: (c) => i.cny(c.price_gpu_hour) },
            { head: t('centers.priceCpu'), num: true, cell: (c) => i.cny(c.price_cpu_core_hour) },
            { head: t('status'), cell: (c) => <StateBadge state={c.status} /> },
            { head: t('created'), cell: (c) => i.date(c.created_at) },
          ]}
        />
      )}
      <form class="card form inline-form" onSubmit={create} data-testid="center-create-form">
        <h2>{t('centers.create')}</h2>
        <label>
          {t('name')}
          <input required pattern="[a-z0-9][a-z0-9\-]{0,62}" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          {t('centers.region')}
          <input required value={region} onInput={(e) => setRegion(e.currentTarget.value)} />
        </label>
        <label>
          {t('centers.priceGpu')}
          <input type="number" min={0} step="any" value={gpu} onInput={(e) => setGpu(e.currentTarget.value)} />
        </label>
        <label>
          {t('centers.priceCpu')}
          <input type="number" min={0} step="any" value={cpu} onInput={(e) => setCpu(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn primary" disabled={submit.busy}>
          {t('create')}
        </button>
        <ErrorBox error={submit.error} />
      </form>
    </section>
  );
}
