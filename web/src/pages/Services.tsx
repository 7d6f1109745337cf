import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import type { List, Service, Tenant } from '../lib/api';
import { Link } from '../lib/router';
import { ErrorBox, Loading, PageHeader, StateBadge } from '../components/ui';

export function ServicesPage() {
  const i = useI18n();
  const { t } = i;
  const { user } = useAuth();
  const admin = user?.role === 'admin';
  const services = useApi<List<Service>>('/api/v1/services', 3000);
  const tenants = useApi<List<Tenant>>(admin ? '/api/v1/tenants' : null);
  const tenantName = (id: string) => tenants.data?.data.find((x) => x.id === id)?.name ?? id.slice(0, 8);
  const list = (services.data?.data ?? []).filter((s) => s.status !== 'deleted');

  return (
    <section>
      <PageHeader title={admin ? t('services.allTitle') : t('services.title')}>
        <Link href="/catalog" class="btn">
          {t('services.new')}
        </Link>
      </PageHeader>
      <ErrorBox error={services.error} />
      {services.loading && !services.data && <Loading />}
      {services.data && list.length === 0 && <p class="muted">{t('services.empty')}</p>}
      {list.length > 0 && (
        <div class="table-scroll">
          <table data-testid="services-table">
            <thead>
              <tr>
                <th scope="col">{t('name')}</th>
                {admin && <th scope="col">{t('tenant')}</th>}
                <th scope="col">{t('services.model')}</th>
                <th scope="col">{t('status')}</th>
                <th scope="col">{t('services.replicas')}</th>
                <th scope="col">{t('created')}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((s) => (
                <tr key={s.id} data-testid={`service-row-${s.name}`}>
                  <td>
                    <Link href={`/services/${s.id}`} data-testid={`service-link-${s.name}`}>
                      {s.name}
                    </Link>
                  </td>
                  {admin && <td>{tenantName(s.tenant_id)}</td>}
                  <td>
                    {s.model} <span class="muted">{s.quantization}</span>
                  </td>
                  <td>
                    <StateBadge state={s.status} testid="service-state" />
                    {s.status_reason && <div class="small muted">{s.status_reason}</div>}
                  </td>
                  <td>
                    {i.num(s.replicas_ready)} / {i.num(s.replicas_wanted)}
                  </td>
                  <td>{i.date(s.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
