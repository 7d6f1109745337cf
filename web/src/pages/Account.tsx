// My account (every signed-in person): who I am, and changing my own password
// with the old one (POST /api/v1/auth/password; my other sessions end).
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import type { MessageKey } from '../i18n/en';
import { useAuth } from '../lib/auth';
import { post } from '../lib/api';
import { passwordProblem } from '../lib/accounts';
import { useSubmit } from '../lib/submit';
import { ErrorBox, PageHeader } from '../components/ui';
import { FormActions, NewPassword, Notice } from '../components/forms';

export function AccountPage() {
  const { t } = useI18n();
  const { user } = useAuth();
  const [oldPassword, setOldPassword] = useState('');
  const [password, setPassword] = useState('');
  const [confirmed, setConfirmed] = useState('');
  const submit = useSubmit();
  const [done, setDone] = useState(false);

  const save = (e: Event) => {
    e.preventDefault();
    setDone(false);
    const problem = passwordProblem(password, confirmed);
    if (problem) return submit.fail(t(problem === 'short' ? 'password.short' : 'password.mismatch'));
    submit.run(async () => {
      await post('/api/v1/auth/password', { old_password: oldPassword, new_password: password });
      setDone(true);
      setOldPassword('');
      setPassword('');
      setConfirmed('');
    });
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
        <NewPassword password={password} confirmed={confirmed} onPassword={setPassword} onConfirmed={setConfirmed} testid="password-new" confirmTestid="password-confirm" />
        <FormActions submitLabel={t('account.changePassword')} busy={submit.busy} testid="password-save" />
        <Notice text={done ? t('account.passwordChanged') : ''} testid="password-changed" />
        <ErrorBox error={submit.error} />
      </form>
    </section>
  );
}
