import { describe, expect, it } from 'vitest';
import { degradedCenters, degradedFromNodes, slurmTone } from './slurm';
import type { NodeInfo, PoolCenter } from './api';

const node = (id: string, center: string, slurm: NodeInfo['slurm']): NodeInfo => ({
  id, name: id, center_id: center, center_name: `c-${center}`, region: 'r', address: 'a', labels: {}, simulated: false,
  status: 'ready', status_reason: null, alive: true, last_heartbeat_at: null, devices: [], replicas: 0,
  managed_by: slurm ? 'slurm' : 'agent', slurm,
});
const view = (controller: 'ok' | 'unreachable') => ({ node: 'cn01', partition: 'scn', state: 'idle', reason: '', controller });

describe('slurm', () => {
  it('tones states as the scheduler maps them', () => {
    const cases: [string, string][] = [
      ['idle', 'ok'], ['mixed', 'ok'], ['allocated+completing', 'ok'], ['idle@', 'ok'],
      ['drain', 'warn'], ['mixed+drain', 'warn'], ['drained', 'warn'], ['idle$', 'warn'],
      ['down', 'bad'], ['idle*', 'bad'], ['idle~', 'bad'], ['idle+not_responding', 'bad'], ['unknown', 'bad'],
      ['frobnicated', 'bad'], ['DOWN+DRAIN', 'bad'],
    ];
    for (const [state, tone] of cases) expect([state, slurmTone(state)]).toEqual([state, tone]);
  });
  it('finds the centers whose controller is unreachable from their nodes', () => {
    const nodes = [node('a1', 'a', view('ok')), node('a2', 'a', view('unreachable')), node('b1', 'b', view('ok')), node('p', 'c', null)];
    expect(degradedFromNodes(nodes)).toEqual([{ center_id: 'a', center_name: 'c-a', unreachable: 1, slurm_nodes: 2 }]);
    expect(degradedFromNodes([node('b1', 'b', view('ok'))])).toEqual([]);
  });
  it('keeps the degraded centers of the pool', () => {
    const c = (id: string, degraded?: boolean): PoolCenter => ({ id, name: id, region: 'r', nodes: {}, devices: [], degraded, degraded_reason: degraded ? 'x' : '' });
    expect(degradedCenters([c('a', true), c('b', false), c('c')]).map((x) => x.id)).toEqual(['a']);
  });
});
