import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { post, type Center, type List } from '../lib/api';
import { ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';

export function CentersPage() {
  const i = useI18n();
  const { t } = i;
  const centers = useApi<List<Center>>('/api/v1/centers');
  const [name, setName] = useState('');
  const [region, setRegion] = useState('');
  const [gpu, setGpu] = useState('');
  const [cpu, setCpu] = useState('');
  const [error, setError] = useState<unknown>(null);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const body: Record<string, unknown> = { name: name.trim(), region: region.trim() };
      if (gpu.trim()) body.price_gpu_hour = Number(gpu);
      if (cpu.trim()) body.price_cpu_core_hour = Number(cpu);
      await post('/api/v1/centers', body);
      setName('');
      setRegion('');
      centers.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <PageHeader title={t('centers.title')} />
      <ErrorBox error={centers.error} />
      {centers.loading && !centers.data && <Loading />}
      {centers.data && (
        <div class="table-scroll" tabIndex={0}>
          <table data-testid="centers-table">
            <thead>
              <tr>
                <th scope="col">{t('name')}</th>
                <th scope="col">{t('centers.region')}</th>
                <th scope="col" class="num">{t('centers.priceGpu')}</th>
                <th scope="col" class="num">{t('centers.priceCpu')}</th>
                <th scope="col">{t('status')}</th>
                <th scope="col">{t('created')}</th>
              </tr>
            </thead>
            <tbody>
              {centers.data.data.map((c) => (
                <tr key={c.id} data-testid={`center-row-${c.name}`}>
                  <td>{c.name}</td>
                  <td>{c.region}</td>
                  <td class="num">{i.cny(c.price_gpu_hour)}</td>
                  <td class="num">{i.cny(c.price_cpu_core_hour)}</td>
                  <td>
                    <StateBadge state={c.status} />
                  </td>
                  <td>{i.date(c.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
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
        <button type="submit" class="btn primary">
          {t('create')}
        </button>
        <ErrorBox error={error} />
      </form>
    </section>
  );
}
