// The Slurm badge of a Slurm-managed node and the banner of a degraded center
// (issue 10; docs/API.md, "Nodes" and "Usage, pool, audit").
import { useI18n } from '../i18n';
import type { SlurmView } from '../lib/api';
import { slurmTone } from '../lib/slurm';

/** "Slurm" plus Slurm's state, toned as the scheduler maps it; a second badge when the controller is unreachable. */
export function SlurmBadge({ slurm }: { slurm: SlurmView }) {
  const { t } = useI18n();
  return (
    <>
      <span class={`badge slurm ${slurmTone(slurm.state)}`} title={t('slurm.help')} data-testid="slurm-badge" data-state={slurm.state}>
        {t('slurm.state', { state: slurm.state })}
      </span>
      {slurm.controller === 'unreachable' && (
        <span class="badge bad" data-testid="slurm-controller">
          {t('slurm.controllerUnreachable')}
        </span>
      )}
    </>
  );
}

/** A banner per degraded center. */
export function DegradedBanner({ text, title }: { text: string; title?: string }) {
  return (
    <p class="notice degraded" role="status" data-testid="center-degraded" title={title}>
      {text}
    </p>
  );
}
