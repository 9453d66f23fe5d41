import { Navigate, useLocation, useNavigate, useSearchParams } from 'react-router';
import { SignInForm, useSetupStatus } from '@/features/auth';
import { PRODUCT_NAME } from '../layout/app-shell';
import { paths } from '../paths';
import styles from './auth-page.module.css';

/** Only same-app paths are followed after sign-in, never another site. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : paths.home.getHref();
}

export function SignInRoute() {
  const status = useSetupStatus();
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const location = useLocation();
  const justSetUp = (location.state as { setUp?: boolean } | null)?.setUp === true;
  if (status.data?.required) return <Navigate to={paths.setup.getHref()} replace />;
  return (
    <main className={styles.page}>
      <title>{`Sign in · ${PRODUCT_NAME}`}</title>
      <section className={styles.card}>
        <h1>Sign in</h1>
        <p>{justSetUp ? 'The admin account is ready. Sign in with it.' : `Sign in to ${PRODUCT_NAME}.`}</p>
        <SignInForm onSignedIn={() => void navigate(safeNext(search.get('next')), { replace: true })} />
      </section>
    </main>
  );
}
