import { describe, expect, it } from 'vitest';
import { addableUsers, parseRegions, passwordProblem, tenantPatchBody, tenantToForm, userPatchBody, userToForm } from './accounts';
import type { Tenant, User } from './api';

const alice: User = {
  id: 'u1',
  username: 'alice',
  role: 'member',
  tenant_id: 't1',
  center_id: null,
  display_name: null,
  disabled: false,
  created_at: '2026-11-28T00:00:00Z',
};
const acme: Tenant = {
  id: 't1',
  name: 'acme',
  display_name: 'Acme',
  status: 'active',
  allowed_regions: null,
  max_replicas: 16,
  created_at: '2026-11-28T00:00:00Z',
};

describe('userPatchBody', () => {
  it('sends nothing when nothing changed', () => {
    expect(userPatchBody(alice, userToForm(alice))).toEqual({});
  });
  it.each([
    ['display name set', { display_name: ' Alice ' }, { display_name: 'Alice' }],
    ['disabled', { disabled: true }, { disabled: true }],
    ['moved to another tenant', { tenant_id: 't2' }, { tenant_id: 't2' }],
    ['made an operator', { role: 'operator', center_id: 'c1' }, { role: 'operator', center_id: 'c1' }],
    ['made an admin (ids dropped by the broker)', { role: 'admin' }, { role: 'admin' }],
  ] as const)('%s', (_what, change, body) => {
    expect(userPatchBody(alice, { ...userToForm(alice), ...change })).toEqual(body);
  });
  it('clears a display name with null', () => {
    const named = { ...alice, display_name: 'Alice' };
    expect(userPatchBody(named, { ...userToForm(named), display_name: '  ' })).toEqual({ display_name: null });
  });
});

describe('tenantPatchBody', () => {
  it('sends only what changed', () => {
    expect(tenantPatchBody(acme, tenantToForm(acme))).toEqual({ body: {} });
    expect(tenantPatchBody(acme, { ...tenantToForm(acme), regions: 'hubei， beijing', max_replicas: '4' })).toEqual({
      body: { allowed_regions: ['hubei', 'beijing'], max_replicas: 4 },
    });
    const limited = { ...acme, allowed_regions: ['hubei'] };
    expect(tenantPatchBody(limited, { ...tenantToForm(limited), regions: '' }).body).toEqual({ allowed_regions: null });
  });
  it('refuses a quota that is not a whole number', () => {
    expect(tenantPatchBody(acme, { ...tenantToForm(acme), max_replicas: '1.5' }).bad).toBe('max_replicas');
  });
});

describe('parseRegions, passwordProblem, addableUsers', () => {
  it('parses regions', () => {
    expect(parseRegions(' a, ,b ')).toEqual(['a', 'b']);
    expect(parseRegions('')).toBeNull();
  });
  it('checks passwords', () => {
    expect(passwordProblem('short', 'short')).toBe('short');
    expect(passwordProblem('long-enough', 'long-enougH')).toBe('mismatch');
    expect(passwordProblem('long-enough', 'long-enough')).toBeNull();
    expect(passwordProblem('密码密码密', '密码密码密')).toBeNull(); // 15 bytes
  });
  it('offers members without a tenant', () => {
    const users: User[] = [alice, { ...alice, id: 'u2', username: 'free', tenant_id: null }, { ...alice, id: 'u3', role: 'admin', tenant_id: null }];
    expect(addableUsers(users).map((u) => u.username)).toEqual(['free']);
  });
});
