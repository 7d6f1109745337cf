// Session state: GET /api/v1/auth/me at start, login/logout, and a reset when
// any request answers 401.
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { api, onUnauthorized, type User } from './api';

interface AuthState {
  user: User | null;
  checked: boolean;
  login: (username: string, password: string) => Promise<User>;
  logout: () => Promise<void>;
}

const Ctx = createContext<AuthState>({
  user: null,
  checked: false,
  login: async () => {
    throw new Error('no provider');
  },
  logout: async () => {},
});

export function AuthProvider({ children }: { children: ComponentChildren }) {
  const [user, setUser] = useState<User | null>(null);
  const [checked, setChecked] = useState(false);

  useEffect(() => {
    api<{ user?: User; tenant_suspended?: boolean }>('GET', '/api/v1/auth/me', undefined, { quiet401: true })
      .then((r) => setUser(r.user ? { ...r.user, tenant_suspended: r.tenant_suspended } : null))
      .catch(() => setUser(null))
      .finally(() => setChecked(true));
    return onUnauthorized(() => setUser(null));
  }, []);

  const login = async (username: string, password: string) => {
    const r = await api<{ user: User; tenant_suspended?: boolean }>('POST', '/api/v1/auth/login', { username, password }, { quiet401: true });
    const u = { ...r.user, tenant_suspended: r.tenant_suspended };
    setUser(u);
    return u;
  };
  const logout = async () => {
    try {
      await api('POST', '/api/v1/auth/logout', {}, { quiet401: true });
    } finally {
      setUser(null);
      try {
        sessionStorage.clear();
      } catch {
        /* ignore */
      }
    }
  };
  return <Ctx.Provider value={{ user, checked, login, logout }}>{children}</Ctx.Provider>;
}

export const useAuth = () => useContext(Ctx);
