import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useAuth } from '../lib/auth';
import { navigate } from '../lib/router';
import { ApiError } from '../lib/api';
import { homeFor } from '../lib/roles';
import { useSubmit } from '../lib/submit';

export function LoginPage() {
  const { t } = useI18n();
  const { login } = useAuth();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const submit = useSubmit();

  const signIn = (e: Event) => {
    e.preventDefault();
    submit.run(async () => {
      const user = await login(username.trim(), password);
      const next = new URLSearchParams(location.search).get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : homeFor(user.role), true);
    });
  };
  const message = (err: unknown) => {
    if (err instanceof ApiError && err.status === 401) return t('login.bad');
    if (err instanceof ApiError && err.status === 429) return t('login.throttled');
    return err instanceof Error ? err.message : String(err);
  };
  const error = submit.error ? message(submit.error) : '';

  return (
    <main class="center-page" id="main">
      <form class="card login" onSubmit={signIn} data-testid="login-form">
        <h1>{t('login.title')}</h1>
        <label>
          {t('login.username')}
          <input
            name="username"
            autoComplete="username"
            required
            value={username}
            data-testid="login-username"
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        <label>
          {t('login.password')}
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            data-testid="login-password"
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        <button type="submit" class="btn primary" disabled={submit.busy} data-testid="login-submit">
          {submit.busy ? t('login.busy') : t('login.submit')}
        </button>
      </form>
    </main>
  );
}
