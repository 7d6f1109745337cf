import { useMemo, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import { ApiError, type List, type Tenant, type UsageRow } from '../lib/api';
import { totalsByDay, totalsByService, usageCsv } from '../lib/usage';
import { Chart } from '../components/Chart';
import { ErrorBox, Loading, PageHeader } from '../components/ui';
import { DataTable } from '../components/DataTable';
import { SelectField } from '../components/forms';

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function UsagePage() {
  const i = useI18n();
  const { t } = i;
  const { user } = useAuth();
  const admin = user?.role === 'admin';
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [tenantId, setTenantId] = useState('');
  const [byDay, setByDay] = useState(true);
  const tenants = useApi<List<Tenant>>(admin ? '/api/v1/tenants' : null);

  const qs = new URLSearchParams();
  if (byDay) qs.set('group_by', 'day');
  if (from) qs.set('from', from);
  if (to) qs.set('to', to);
  if (admin && tenantId) qs.set('tenant_id', tenantId);
  const q = qs.toString();
  const usage = useApi<List<UsageRow>>(`/api/v1/usage${q ? `?${q}` : ''}`, 10000);
  // A broker that does not know group_by may refuse it: ask again without.
  if (byDay && usage.error instanceof ApiError && usage.error.status === 400 && usage.error.param === 'group_by') setByDay(false);

  const rows = usage.data?.data ?? [];
  const perService = useMemo(() => totalsByService(rows), [rows]);
  const perDay = useMemo(() => totalsByDay(rows), [rows]);
  const sum = perService.reduce(
    (a, s) => ({ requests: a.requests + s.requests, prompt: a.prompt + s.prompt_tokens, completion: a.completion + s.completion_tokens }),
    { requests: 0, prompt: 0, completion: 0 },
  );

  const serviceOption = useMemo(
    () => ({
      tooltip: { trigger: 'axis' },
      legend: { data: [t('usage.prompt'), t('usage.completion')] },
      grid: { left: 16, right: 16, bottom: 16, top: 40, containLabel: true },
      xAxis: { type: 'category', data: perService.map((s) => s.service_name) },
      yAxis: { type: 'value', name: t('usage.tokens') },
      series: [
        { name: t('usage.prompt'), type: 'bar', stack: 'tok', data: perService.map((s) => s.prompt_tokens) },
        { name: t('usage.completion'), type: 'bar', stack: 'tok', data: perService.map((s) => s.completion_tokens) },
      ],
    }),
    [perService, i.lang],
  );
  const dayOption = useMemo(
    () => ({
      tooltip: { trigger: 'axis' },
      legend: { data: [t('usage.tokens'), t('usage.requests')] },
      grid: { left: 16, right: 16, bottom: 16, top: 40, containLabel: true },
      xAxis: { type: 'category', data: perDay.map((d) => d.day) },
      yAxis: [
        { type: 'value', name: t('usage.tokens') },
        { type: 'value', name: t('usage.requests') },
      ],
      series: [
        { name: t('usage.tokens'), type: 'bar', data: perDay.map((d) => d.tokens) },
        { name: t('usage.requests'), type: 'line', yAxisIndex: 1, data: perDay.map((d) => d.requests) },
      ],
    }),
    [perDay, i.lang],
  );

  return (
    <section>
      <PageHeader title={t('usage.title')}>
        <button
          type="button"
          class="btn"
          disabled={!rows.length}
          data-testid="usage-csv"
          onClick={() => download(`scn-usage-${new Date().toISOString().slice(0, 10)}.csv`, usageCsv(rows))}
        >
          {t('usage.csv')}
        </button>
      </PageHeader>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        {admin && (
          <SelectField label={t('tenant')} value={tenantId} onChange={setTenantId} options={tenants.data?.data ?? []} none={t('all')} testid="usage-tenant" />
        )}
        <label>
          {t('usage.from')}
          <input type="date" value={from} onInput={(e) => setFrom(e.currentTarget.value)} data-testid="usage-from" />
        </label>
        <label>
          {t('usage.to')}
          <input type="date" value={to} onInput={(e) => setTo(e.currentTarget.value)} data-testid="usage-to" />
        </label>
      </form>
      <ErrorBox error={usage.error} />
      {usage.loading && !usage.data && <Loading />}
      <div class="stats">
        <div class="stat">
          <span>{t('usage.requests')}</span>
          <strong data-testid="usage-total-requests">{i.num(sum.requests)}</strong>
        </div>
        <div class="stat">
          <span>{t('usage.prompt')}</span>
          <strong>{i.num(sum.prompt)}</strong>
        </div>
        <div class="stat">
          <span>{t('usage.completion')}</span>
          <strong>{i.num(sum.completion)}</strong>
        </div>
      </div>
      <div class="grid2">
        <div class="card">
          <h2>{t('usage.perService')}</h2>
          <Chart option={serviceOption} label={t('usage.perService')} testid="usage-chart" points={perService.length} />
        </div>
        {perDay.length > 0 && (
          <div class="card">
            <h2>{t('usage.perDay')}</h2>
            <Chart option={dayOption} label={t('usage.perDay')} testid="usage-day-chart" points={perDay.length} />
          </div>
        )}
      </div>
      <DataTable
        testid="usage-table"
        caption={t('usage.perService')}
        rows={perService}
        rowKey={(s) => s.service_id}
        rowTestid={(s) => `usage-row-${s.service_name}`}
        empty={t('usage.empty')}
        columns={[
          { head: t('usage.service'), cell: (s) => s.service_name },
          { head: t('usage.requests'), num: true, cell: (s) => i.num(s.requests) },
          { head: t('usage.prompt'), num: true, cell: (s) => i.num(s.prompt_tokens) },
          { head: t('usage.completion'), num: true, cell: (s) => i.num(s.completion_tokens) },
          { head: t('usage.total'), num: true, cell: (s) => i.num(s.prompt_tokens + s.completion_tokens) },
        ]}
      />
      <p class="small muted">{t('usage.billNote')}</p>
    </section>
  );
}
