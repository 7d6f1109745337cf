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
          <label>
            {t('tenant')}
            <select value={tenantId} onChange={(e) => setTenantId(e.currentTarget.value)} data-testid="bill-tenant">
              <option value="">{t('all')}</option>
              {(tenants.data?.data ?? []).map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </select>
          </label>
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
        <div class="table-scroll" tabIndex={0}>
          <table data-testid="bill-tenants">
            <caption class="sr-only">{t('bills.perTenant')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('tenant')}</th>
                <th scope="col" class="num">{t('bills.lines')}</th>
                <th scope="col" class="num">{t('bills.amount')}</th>
              </tr>
            </thead>
            <tbody>
              {perTenant.map((x) => (
                <tr key={x.tenant_id} data-testid={`bill-tenant-${x.tenant_name}`}>
                  <td>
                    <button type="button" class="btn small ghost" onClick={() => setTenantId(x.tenant_id)}>
                      {x.tenant_name}
                    </button>
                  </td>
                  <td class="num">{i.num(x.lines)}</td>
                  <td class="num">{money(fenToString(x.amount_fen))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="table-scroll" tabIndex={0}>
        <table data-testid="bill-lines">
          <caption class="sr-only">{t('bills.title')}</caption>
          <thead>
            <tr>
              {admin && <th scope="col">{t('tenant')}</th>}
              <th scope="col">{t('usage.service')}</th>
              <th scope="col">{t('services.model')}</th>
              <th scope="col">{t('center')}</th>
              <th scope="col" class="num">{t('usage.requests')}</th>
              <th scope="col" class="num">{t('usage.prompt')}</th>
              <th scope="col" class="num">{t('bills.cached')}</th>
              <th scope="col" class="num">{t('usage.completion')}</th>
              <th scope="col" class="num">{t('bills.replicaHours')}</th>
              <th scope="col" class="num">{t('bills.amount')}</th>
            </tr>
          </thead>
          <tbody>
            {bill.data && lines.length === 0 && (
              <tr>
                <td colSpan={admin ? 10 : 9} class="muted">
                  {t('bills.empty')}
                </td>
              </tr>
            )}
            {lines.map((l) => (
              <tr key={`${l.tenant_id}/${l.service_id}/${l.model}/${l.center_id}`} data-testid={`bill-line-${l.service_name}`}>
                {admin && <td>{l.tenant_name}</td>}
                <td>{l.service_name}</td>
                <td>{l.model}</td>
                <td>{l.center_name ?? t('bills.unknownCenter')}</td>
                <td class="num">{i.num(l.requests)}</td>
                <td class="num" title={t('bills.pricePer', { price: money(l.prices.prompt_per_million, 6) })}>
                  {i.num(l.prompt_tokens)}
                </td>
                <td class="num">{i.num(l.cached_prompt_tokens)}</td>
                <td class="num" title={t('bills.pricePer', { price: money(l.prices.completion_per_million, 6) })}>
                  {i.num(l.completion_tokens)}
                </td>
                <td class="num" title={t('bills.pricePerHour', { price: money(l.prices.replica_hour, 6) })}>
                  {i.num(Number(l.replica_hours), 4)}
                </td>
                <td class="num">{money(l.amount)}</td>
              </tr>
            ))}
          </tbody>
          {bill.data && lines.length > 0 && (
            <tfoot>
              <tr>
                <th scope="row" colSpan={admin ? 9 : 8}>
                  {t('bills.total')}
                </th>
                <td class="num">
                  <strong>{money(bill.data.total)}</strong>
                </td>
              </tr>
            </tfoot>
          )}
        </table>
      </div>
      <p class="small muted">{t('bills.note')}</p>
    </section>
  );
}
