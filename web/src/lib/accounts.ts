// Request bodies of the account-editing forms (users, tenants, passwords),
// computed from what the form holds and what the row was: only changed
// fields are sent (PATCH). Tested in accounts.test.ts.
import type { Role, Tenant, User } from './api';

export interface UserForm {
  display_name: string;
  role: Role;
  tenant_id: string;
  center_id: string;
  disabled: boolean;
}

export function userToForm(u: User): UserForm {
  return {
    display_name: u.display_name ?? '',
    role: u.role,
    tenant_id: u.tenant_id ?? '',
    center_id: u.center_id ?? '',
    disabled: !!u.disabled,
  };
}

/** The PATCH /api/v1/users/{id} body: changed fields only; ids follow the role. */
export function userPatchBody(before: User, form: UserForm): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const display = form.display_name.trim();
  if (display !== (before.display_name ?? '')) body.display_name = display === '' ? null : display;
  if (form.role !== before.role) body.role = form.role;
  if (form.role === 'member' && form.tenant_id !== (before.tenant_id ?? '')) body.tenant_id = form.tenant_id || null;
  if (form.role === 'operator' && (form.center_id !== (before.center_id ?? '') || form.role !== before.role)) {
    body.center_id = form.center_id || null;
  }
  if (form.disabled !== !!before.disabled) body.disabled = form.disabled;
  return body;
}

export interface TenantForm {
  display_name: string;
  regions: string; // comma separated; empty: anywhere
  max_replicas: string;
}

export function tenantToForm(t: Tenant): TenantForm {
  return { display_name: t.display_name, regions: (t.allowed_regions ?? []).join(', '), max_replicas: String(t.max_replicas) };
}

/** "a, b,,c " -> ["a","b","c"]; nothing -> null (anywhere). */
export function parseRegions(text: string): string[] | null {
  const r = text.split(/[,，]/).map((x) => x.trim()).filter(Boolean);
  return r.length ? r : null;
}

/** The PATCH /api/v1/tenants/{id} body (changed fields only); `bad` names a field that is not a whole number. */
export function tenantPatchBody(before: Tenant, form: TenantForm): { body: Record<string, unknown>; bad?: 'max_replicas' } {
  const body: Record<string, unknown> = {};
  const display = form.display_name.trim();
  if (display && display !== before.display_name) body.display_name = display;
  const regions = parseRegions(form.regions);
  if (JSON.stringify(regions) !== JSON.stringify(before.allowed_regions ?? null)) body.allowed_regions = regions;
  const max = form.max_replicas.trim();
  if (!/^\d+$/.test(max)) return { body, bad: 'max_replicas' };
  if (Number(max) !== before.max_replicas) body.max_replicas = Number(max);
  return { body };
}

/** Why a new password cannot be sent, or null: too short (under 8 bytes), or the two entries differ. */
export function passwordProblem(password: string, confirm: string): 'short' | 'mismatch' | null {
  if (new TextEncoder().encode(password).length < 8) return 'short';
  if (password !== confirm) return 'mismatch';
  return null;
}

/** Users a tenant can add: members without a tenant (a member of another tenant must be removed first). */
export function addableUsers(users: User[]): User[] {
  return users.filter((u) => u.role === 'member' && !u.tenant_id);
}
