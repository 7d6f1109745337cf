// My account (every signed-in person): who I am, and changing my own password
// with the old one (POST /api/v1/auth/password; my other sessions end).
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import type { MessageKey } from '../i18n/en';
import { useAuth } from '../lib/auth';
import { post } from '../lib/api';
import { passwordProblem } from '../lib/accounts';
import { ErrorBox, PageHeader } from '../components/ui';

export function AccountPage() {
  const { t } = useI18n();
  const { user } = useAuth();
  const [oldPassword, setOldPassword] = useState('');
  const [password, setPassword] = useState('');
  const [confirmed, setConfirmed] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  const save = async (e: Event) => {
    e.preventDefault();
    setDone(false);
    const problem = passwordProblem(password, confirmed);
    if (problem) {
      setError(new Error(t(problem === 'short' ? 'password.short' : 'password.mismatch')));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await post('/api/v1/auth/password', { old_password: oldPassword, new_password: password });
      setDone(true);
      setOldPassword('');
      setPassword('');
      setConfirmed('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <PageHeader title={t('account.title')} />
      {user && (
        <dl class="card facts" data-testid="account-facts">
          <dt>{t('users.username')}</dt>
          <dd>{user.username}</dd>
          <dt>{t('users.displayName')}</dt>
          <dd>{user.display_name ?? '—'}</dd>
          <dt>{t('users.role')}</dt>
          <dd>{t(`role.${user.role}` as MessageKey)}</dd>
        </dl>
      )}
      <form class="card form" onSubmit={save} data-testid="password-form">
        <h2>{t('account.changePassword')}</h2>
        <label>
          {t('password.old')}
          <input type="password" required autoComplete="current-password" value={oldPassword} onInput={(e) => setOldPassword(e.currentTarget.value)} data-testid="password-old" />
        </label>
        <label>
          {t('password.new')}
          <input type="password" required minLength={8} autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} data-testid="password-new" />
        </label>
        <label>
          {t('password.confirm')}
          <input type="password" required minLength={8} autoComplete="new-password" value={confirmed} onInput={(e) => setConfirmed(e.currentTarget.value)} data-testid="password-confirm" />
        </label>
        <div class="form-actions">
          <button type="submit" class="btn primary" disabled={busy} data-testid="password-save">
            {t('account.changePassword')}
          </button>
        </div>
        {done && (
          <p role="status" class="notice" data-testid="password-changed">
            {t('account.passwordChanged')}
          </p>
        )}
        <ErrorBox error={error} />
      </form>
    </section>
  );
}
