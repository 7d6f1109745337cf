import { useI18n } from '../i18n';
import { useAuth } from '../lib/auth';
import { Link } from '../lib/router';
import { homeFor } from '../lib/roles';

/** The error page: unknown console path, a resource that is not found (or is
 * another tenant's: the API answers 404 for both), or a page of another role. */
export function NotFoundPage({ forbidden = false, message }: { forbidden?: boolean; message?: string }) {
  const { t } = useI18n();
  const { user } = useAuth();
  return (
    <section class="error-page" data-testid="error-page">
      <h1>{forbidden ? t('forbidden.title') : t('notfound.title')}</h1>
      <p>{message ?? (forbidden ? t('forbidden.body') : t('notfound.body'))}</p>
      {user && <Link href={homeFor(user.role)}>{t('notfound.home')}</Link>}
    </section>
  );
}
