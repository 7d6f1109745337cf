import type { Role } from './api';

/** The first page of each role. */
export function homeFor(role: Role): string {
  return role === 'admin' ? '/pool' : role === 'operator' ? '/nodes' : '/catalog';
}
