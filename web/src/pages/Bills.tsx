// The month's bill in CNY (GET /api/v1/bills): a tenant sees its own lines,
// an admin every tenant's (or one), with per-tenant totals; month picker and
// the broker's CSV download.
import { useMemo, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import type { List, Tenant } from '../lib/api';
import { billUrl, fenToString, formatMoney, isMonth, shiftMonth, totalsByTenant, utcMonth, type Bill } from '../lib/billing';
import { ErrorBox, Loading, PageHeader } from '../components/ui';
import { DataTable } from '../components/DataTable';
import { SelectField } from '../components/forms';

export function BillsPage() {
  const i = useI18n();
  const { t } = i;
  const { user } = useAuth();
  const admin = user?.role === 'admin';
  const [month, setMonth] = useState(utcMonth(new Date()));
  const [tenantId, setTenantId] = useState('');
  const tenants = useApi<List<Tenant>>(admin ? '/api/v1/tenants' : null);
  const valid = isMonth(month);
  const bill = useApi<Bill>(valid ? billUrl(month, admin ? tenantId : '') : null, 15000);
  const lines = bill.data?.lines ?? [];
  const perTenant = useMemo(() => totalsByTenant(lines), [lines]);
  const money = (v: string | number, digits = 2) => formatMoney(v, i.locale, digits);
  const monthLabel = valid
    ? new Intl.DateTimeFormat(i.locale, { year: 'numeric', month: 'long', timeZone: 'UTC' }).format(new Date(`${month}-01T00:00:00Z`))
    : month;

  return (
    <section>
      <PageHeader title={t('bills.title')}>
        <a
          class={`btn${valid ? '' : ' disabled'}`}
          href={valid ? billUrl(month, admin ? tenantId : '', 'csv') : undefined}
          aria-disabled={!valid}
          download={`bill-${month}.csv`}
          data-testid="bill-csv"
        >
          {t('bills.csv')}
        </a>
      </PageHeader>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <button type="button" class="btn" onClick={() => valid && setMonth(shiftMonth(month, -1))} data-testid="bill-prev">
          ‹ {t('bills.prev')}
        </button>
        <label>
          {t('bills.month')}
          <input type="month" value={month} required onInput={(e) => setMonth(e.currentTarget.value)} data-testid="bill-month" />
        </label>
        <button type="button" class="btn" onClick={() => valid && setMonth(shiftMonth(month, 1))} data-testid="bill-next">
          {t('bills.next')} ›
        </button>
        {admin && (
          <SelectField label={t('tenant')} value={tenantId} onChange={setTenantId} options={tenants.data?.data ?? []} none={t('all')} testid="bill-tenant" />
        )}
      </form>
      <ErrorBox error={bill.error} />
      {bill.loading && !bill.data && <Loading />}
      <div class="stats">
        <div class="stat">
          <span>{t('bills.totalFor', { month: monthLabel })}</span>
          <strong data-testid="bill-total" data-amount={bill.data?.total ?? ''}>
            {bill.data ? money(bill.data.total) : '—'}
          </strong>
        </div>
        <div class="stat">
          <span>{t('bills.lines')}</span>
          <strong>{i.num(lines.length)}</strong>
        </div>
      </div>
      {admin && !tenantId && perTenant.length > 0 && (
        <DataTable
          testid="bill-tenants"
          caption={t('bills.perTenant')}
          rows={perTenant}
          rowKey={(x) => x.tenant_id}
          rowTestid={(x) => `bill-tenant-${x.tenant_name}`}
          columns={[
            {
              head: t('tenant'),
              cell: (x) => (
                <button type="button" class="btn small ghost" onClick={() => setTenantId(x.tenant_id)}>
                  {x.tenant_name}
                </button>
              ),
            },
            { head: t('bills.lines'), num: true, cell: (x) => i.num(x.lines) },
            { head: t('bills.amount'), num: true, cell: (x) => money(fenToString(x.amount_fen)) },
          ]}
        />
      )}
      <DataTable
        testid="bill-lines"
        caption={t('bills.title')}
        rows={lines}
        rowKey={(l) => `${l.tenant_id}/${l.service_id}/${l.model}/${l.center_id}`}
        rowTestid={(l) => `bill-line-${l.service_name}`}
        empty={bill.data ? t('bills.empty') : null}
        columns={[
          admin && { head: t('tenant'), cell: (l) => l.tenant_name },
          { head: t('usage.service'), cell: (l) => l.service_name },
          { head: t('services.model'), cell: (l) => l.model },
          { head: t('center'), cell: (l) => l.center_name ?? t('bills.unknownCenter') },
          { head: t('usage.requests'), num: true, cell: (l) => i.num(l.requests) },
          {
            head: t('usage.prompt'),
            num: true,
            cell: (l) => i.num(l.prompt_tokens),
            title: (l) => t('bills.pricePer', { price: money(l.prices.prompt_per_million, 6) }),
          },
          { head: t('bills.cached'), num: true, cell: (l) => i.num(l.cached_prompt_tokens) },
          {
            head: t('usage.completion'),
            num: true,
            cell: (l) => i.num(l.completion_tokens),
            title: (l) => t('bills.pricePer', { price: money(l.prices.completion_per_million, 6) }),
          },
          {
            head: t('bills.replicaHours'),
            num: true,
            cell: (l) => i.num(Number(l.replica_hours), 4),
            title: (l) => t('bills.pricePerHour', { price: money(l.prices.replica_hour, 6) }),
          },
          { head: t('bills.amount'), num: true, cell: (l) => money(l.amount) },
        ]}
        foot={
          bill.data &&
          lines.length > 0 && (
            <>
              <th scope="row" colSpan={admin ? 9 : 8}>
                {t('bills.total')}
              </th>
              <td class="num">
                <strong>{money(bill.data.total)}</strong>
              </td>
            </>
          )
        }
      />
      <p class="small muted">{t('bills.note')}</p>
    </section>
  );
}
