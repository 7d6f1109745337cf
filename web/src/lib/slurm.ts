// Slurm-managed nodes in the console (issue 10): the badge tone of a Slurm
// state and the "center degraded" banners (tested in slurm.test.ts).
import type { NodeInfo, PoolCenter } from './api';

export type Tone = 'ok' | 'warn' | 'bad';

/** The tone of a Slurm state as the scheduler maps it (scheduler/slurm_state.h). */
export function slurmTone(state: string): Tone {
  const parts = state.toLowerCase().split('+');
  let drain = false;
  for (let p of parts) {
    if (/[*~#%]$/.test(p)) return 'bad';
    if (p.endsWith('$')) drain = true;
    p = p.replace(/[*~#!%$@^-]+$/, '');
    if (/^(down|fail|not_responding|no_respond|npc|unknown|unk|future|futr|power_down|powered_down|powering_down|pow_dn|powering_up|power_up|pow_up|poweroff|power_off|invalid_reg|inval|reboot_issued|boot)$/.test(p))
      return 'bad';
    if (/^(drain|draining|drained|drng|failing|maint|reboot_requested)$/.test(p)) drain = true;
  }
  const base = parts[0].replace(/[*~#!%$@^-]+$/, '');
  if (!/^(idle|mixed|mix|allocated|alloc|completing|comp|planned|plnd|reserved|resv|drain|draining|drained|drng|failing|maint|reboot_requested)$/.test(base)) return 'bad';
  return drain ? 'warn' : 'ok';
}

export interface Degraded {
  center_id: string;
  center_name: string;
  unreachable: number;
  slurm_nodes: number;
}

/** Centers whose Slurm controller some of their Slurm nodes report unreachable. */
export function degradedFromNodes(nodes: NodeInfo[]): Degraded[] {
  const m = new Map<string, Degraded>();
  for (const n of nodes) {
    if (n.managed_by !== 'slurm' || !n.slurm) continue;
    const cur = m.get(n.center_id) ?? { center_id: n.center_id, center_name: n.center_name, unreachable: 0, slurm_nodes: 0 };
    cur.slurm_nodes += 1;
    if (n.slurm.controller === 'unreachable') cur.unreachable += 1;
    m.set(n.center_id, cur);
  }
  return [...m.values()].filter((d) => d.unreachable > 0).sort((a, b) => a.center_name.localeCompare(b.center_name));
}

/** The degraded centers of GET /api/v1/pool. */
export function degradedCenters(centers: PoolCenter[]): PoolCenter[] {
  return centers.filter((c) => c.degraded === true);
}
