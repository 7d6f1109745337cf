// The console shell: providers, the role's menu, the language switch and the
// router. Unknown paths render a "not found" page inside the app.
import { useEffect, useState } from 'preact/hooks';
import type { FunctionComponent } from 'preact';
import { I18nProvider, useI18n } from './i18n';
import type { MessageKey } from './i18n/en';
import { AuthProvider, useAuth } from './lib/auth';
import { Link, match, navigate, usePath } from './lib/router';
import type { Role } from './lib/api';
import { homeFor } from './lib/roles';
import { LoginPage } from './pages/Login';
import { CatalogPage } from './pages/Catalog';
import { ServicesPage } from './pages/Services';
import { ServiceDetailPage } from './pages/ServiceDetail';
import { ChatPage } from './pages/Chat';
import { ApiKeysPage } from './pages/ApiKeys';
import { UsagePage } from './pages/Usage';
import { NodesPage } from './pages/Nodes';
import { JoinTokensPage } from './pages/JoinTokens';
import { PoolPage } from './pages/Pool';
import { CentersPage } from './pages/Centers';
import { TenantsPage } from './pages/Tenants';
import { UsersPage } from './pages/Users';
import { AccountPage } from './pages/Account';
import { AuditPage } from './pages/Audit';
import { BillsPage } from './pages/Bills';
import { PricesPage } from './pages/Prices';
import { RequestsPage } from './pages/Requests';
import { NotFoundPage } from './pages/NotFound';

interface RouteDef {
  path: string;
  roles: Role[];
  page: FunctionComponent<{ params: Record<string, string> }>;
  nav?: MessageKey;
  testid?: string;
}

const ROUTES: RouteDef[] = [
  { path: '/pool', roles: ['admin'], page: PoolPage, nav: 'nav.pool', testid: 'nav-pool' },
  { path: '/catalog', roles: ['member', 'admin'], page: CatalogPage, nav: 'nav.catalog', testid: 'nav-catalog' },
  { path: '/services', roles: ['member', 'admin'], page: ServicesPage, nav: 'nav.services', testid: 'nav-services' },
  { path: '/services/:id', roles: ['member', 'admin'], page: ServiceDetailPage },
  { path: '/chat', roles: ['member'], page: ChatPage, nav: 'nav.chat', testid: 'nav-chat' },
  { path: '/keys', roles: ['member', 'admin'], page: ApiKeysPage, nav: 'nav.keys', testid: 'nav-keys' },
  { path: '/usage', roles: ['member', 'admin'], page: UsagePage, nav: 'nav.usage', testid: 'nav-usage' },
  { path: '/bills', roles: ['member', 'admin'], page: BillsPage, nav: 'nav.bills', testid: 'nav-bills' },
  { path: '/requests', roles: ['member', 'admin'], page: RequestsPage, nav: 'nav.requests', testid: 'nav-requests' },
  { path: '/nodes', roles: ['operator', 'admin'], page: NodesPage, nav: 'nav.nodes', testid: 'nav-nodes' },
  { path: '/tokens', roles: ['operator', 'admin'], page: JoinTokensPage, nav: 'nav.tokens', testid: 'nav-tokens' },
  { path: '/centers', roles: ['admin'], page: CentersPage, nav: 'nav.centers', testid: 'nav-centers' },
  { path: '/prices', roles: ['admin'], page: PricesPage, nav: 'nav.prices', testid: 'nav-prices' },
  { path: '/tenants', roles: ['admin'], page: TenantsPage, nav: 'nav.tenants', testid: 'nav-tenants' },
  { path: '/users', roles: ['admin'], page: UsersPage, nav: 'nav.users', testid: 'nav-users' },
  { path: '/audit', roles: ['admin'], page: AuditPage, nav: 'nav.audit', testid: 'nav-audit' },
  { path: '/account', roles: ['member', 'operator', 'admin'], page: AccountPage, nav: 'nav.account', testid: 'nav-account' },
];


function LangSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <label class="lang">
      <span class="sr-only">{t('language')}</span>
      <select
        value={lang}
        data-testid="lang-switch"
        aria-label={t('language')}
        onChange={(e) => setLang((e.currentTarget as HTMLSelectElement).value as 'en' | 'zh')}
      >
        <option value="zh">中文</option>
        <option value="en">English</option>
      </select>
    </label>
  );
}

function Shell() {
  const { user, checked, logout } = useAuth();
  const { t } = useI18n();
  const path = usePath();
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => setMenuOpen(false), [path]);
  useEffect(() => {
    if (!checked) return;
    if (!user && path !== '/login') {
      const next = path === '/' ? '' : `?next=${encodeURIComponent(path + location.search)}`;
      navigate(`/login${next}`, true);
    } else if (user && (path === '/' || path === '/login')) {
      navigate(homeFor(user.role), true);
    }
  }, [user, checked, path]);

  if (!checked) {
    return (
      <main class="center-page">
        <p role="status">{t('loading')}</p>
      </main>
    );
  }
  if (!user) {
    return (
      <>
        <header class="topbar">
          <span class="brand">{t('app.name')}</span>
          <LangSwitch />
        </header>
        <LoginPage />
      </>
    );
  }

  let content = null;
  for (const r of ROUTES) {
    const params = match(r.path, path);
    if (!params) continue;
    if (!r.roles.includes(user.role)) {
      content = <NotFoundPage forbidden />;
    } else {
      const Page = r.page;
      content = <Page params={params} />;
    }
    break;
  }
  if (!content) content = <NotFoundPage />;

  const nav = ROUTES.filter((r) => r.nav && r.roles.includes(user.role));
  return (
    <>
      <a class="skip" href="#main">
        {t('skip')}
      </a>
      <header class="topbar">
        <button
          type="button"
          class="btn ghost menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          ☰ <span class="sr-only">{t('menu')}</span>
        </button>
        <Link href={homeFor(user.role)} class="brand">
          {t('app.name')}
        </Link>
        <span class="spacer" />
        <span class="who" data-testid="whoami">
          {user.username} · {t(`role.${user.role}` as MessageKey)}
        </span>
        <LangSwitch />
        <button type="button" class="btn ghost" data-testid="logout" onClick={() => logout().then(() => navigate('/login'))}>
          {t('logout')}
        </button>
      </header>
      <div class="layout">
        <nav id="nav" class={menuOpen ? 'open' : ''} aria-label={t('menu')}>
          <ul>
            {nav.map((r) => {
              const active = path === r.path || path.startsWith(`${r.path}/`);
              return (
                <li key={r.path}>
                  <Link href={r.path} data-testid={r.testid} aria-current={active ? 'page' : undefined} class={active ? 'active' : ''}>
                    {t(r.nav!)}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {user.tenant_suspended && (
            <div class="error" role="alert" data-testid="tenant-suspended">
              {t('tenants.suspendedNotice')}
            </div>
          )}
          {content}
        </main>
      </div>
    </>
  );
}

export function App() {
  return (
    <I18nProvider>
      <AuthProvider>
        <Shell />
      </AuthProvider>
    </I18nProvider>
  );
}
