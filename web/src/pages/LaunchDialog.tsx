import { useMemo, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useApi } from '../lib/hooks';
import { useAuth } from '../lib/auth';
import { post, type Center, type List, type ModelCard, type Placement, type Service, type Tenant } from '../lib/api';
import { defaultContext } from '../lib/catalog';
import { navigate } from '../lib/router';
import { useSubmit } from '../lib/submit';
import { ErrorBox, Modal } from '../components/ui';
import { FormActions, SelectField } from '../components/forms';

export function LaunchDialog({ card, onClose }: { card: ModelCard; onClose: () => void }) {
  const i = useI18n();
  const { t } = i;
  const { user } = useAuth();
  const centers = useApi<List<Center>>('/api/v1/centers');
  const tenants = useApi<List<Tenant>>(user?.role === 'admin' ? '/api/v1/tenants' : null);
  const present = card.files.filter((x) => x.weights_present);
  const [name, setName] = useState(card.name.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60));
  const [quant, setQuant] = useState(present[0]?.quantization ?? card.files[0]?.quantization ?? '');
  const [replicas, setReplicas] = useState(1);
  const [context, setContext] = useState(defaultContext(card));
  const [regions, setRegions] = useState<string[]>([]);
  const [kind, setKind] = useState<'any' | 'cpu' | 'gpu'>('any');
  const [priceCap, setPriceCap] = useState('');
  const [tenantId, setTenantId] = useState('');
  const submit = useSubmit();

  const allRegions = useMemo(
    () => [...new Set((centers.data?.data ?? []).map((c) => c.region))].sort(),
    [centers.data],
  );

  const launch = (e: Event) => {
    e.preventDefault();
    const placement: Placement = {};
    if (regions.length) placement.regions = regions;
    if (kind !== 'any') placement.device_kind = kind;
    if (priceCap.trim() !== '') placement.price_cap_per_hour = Number(priceCap);
    const body: Record<string, unknown> = {
      name: name.trim(),
      model: card.name,
      quantization: quant,
      replicas,
      context_length: context,
      placement,
    };
    if (user?.role === 'admin') body.tenant_id = tenantId;
    submit.run(async () => {
      const svc = await post<Service>('/api/v1/services', body);
      onClose();
      navigate(`/services/${svc.id}`);
    });
  };

  return (
    <Modal title={t('launch.title', { model: card.display_name })} onClose={onClose}>
      <form class="form" onSubmit={launch} data-testid="launch-form">
        {user?.role === 'admin' && (
          <SelectField
            label={t('launch.tenant')}
            required
            value={tenantId}
            onChange={setTenantId}
            options={(tenants.data?.data ?? []).map((x) => ({ id: x.id, name: `${x.display_name} (${x.name})` }))}
            testid="launch-tenant"
          />
        )}
        <label>
          {t('launch.name')}
          <input
            required
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,127}"
            value={name}
            data-testid="launch-name"
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <span class="hint">{t('launch.nameHint')}</span>
        </label>
        <label>
          {t('catalog.quant')}
          <select value={quant} data-testid="launch-quant" onChange={(e) => setQuant(e.currentTarget.value)}>
            {card.files.map((x) => (
              <option key={x.id} value={x.quantization} disabled={!x.weights_present}>
                {x.quantization} — {i.bytes(x.size_bytes)}
                {x.weights_present ? '' : ` (${t('catalog.absent')})`}
              </option>
            ))}
          </select>
        </label>
        <div class="row">
          <label>
            {t('launch.replicas')}
            <input
              type="number"
              min={0}
              max={10000}
              required
              value={replicas}
              data-testid="launch-replicas"
              onInput={(e) => setReplicas(Number(e.currentTarget.value))}
            />
          </label>
          <label>
            {t('launch.context')}
            <input
              type="number"
              min={1}
              max={card.context_length}
              required
              value={context}
              data-testid="launch-context"
              onInput={(e) => setContext(Number(e.currentTarget.value))}
            />
          </label>
        </div>
        <fieldset>
          <legend>{t('launch.placement')}</legend>
          <div class="row">
            <label>
              {t('launch.deviceKind')}
              <select value={kind} data-testid="launch-kind" onChange={(e) => setKind(e.currentTarget.value as 'any' | 'cpu' | 'gpu')}>
                <option value="any">{t('launch.kind.any')}</option>
                <option value="gpu">{t('launch.kind.gpu')}</option>
                <option value="cpu">{t('launch.kind.cpu')}</option>
              </select>
            </label>
            <label>
              {t('launch.priceCap')}
              <input
                type="number"
                min={0}
                step="any"
                value={priceCap}
                placeholder={t('launch.noCap')}
                data-testid="launch-price-cap"
                onInput={(e) => setPriceCap(e.currentTarget.value)}
              />
            </label>
          </div>
          <div role="group" aria-label={t('launch.regions')} class="checks">
            <span class="label">{t('launch.regions')}</span>
            {allRegions.length === 0 && <span class="muted small">{t('launch.anyRegion')}</span>}
            {allRegions.map((r) => (
              <label class="check" key={r}>
                <input
                  type="checkbox"
                  checked={regions.includes(r)}
                  data-testid={`launch-region-${r}`}
                  onChange={(e) =>
                    setRegions(e.currentTarget.checked ? [...regions, r] : regions.filter((x) => x !== r))
                  }
                />
                {r}
              </label>
            ))}
          </div>
          <p class="hint">{t('launch.regionsHint')}</p>
        </fieldset>
        <ErrorBox error={submit.error} />
        <FormActions onCancel={onClose} submitLabel={submit.busy ? t('launch.busy') : t('launch.submit')} busy={submit.busy} testid="launch-submit" />
      </form>
    </Modal>
  );
}
