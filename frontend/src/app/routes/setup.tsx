import { Navigate, useNavigate } from 'react-router';
import { SetupForm, useSetupStatus } from '@/features/auth';
import { PRODUCT_NAME } from '../layout/app-shell';
import { paths } from '../paths';
import styles from './auth-page.module.css';

export function SetupRoute() {
  const status = useSetupStatus();
  const navigate = useNavigate();
  if (status.data && !status.data.required) return <Navigate to={paths.signIn.getHref()} replace />;
  return (
    <main className={styles.page}>
      <title>{`Set up · ${PRODUCT_NAME}`}</title>
      <section className={styles.card}>
        <h1>Set up {PRODUCT_NAME}</h1>
        <p>Create the admin account. It manages users, API tokens and settings.</p>
        <SetupForm onDone={() => void navigate(paths.signIn.getHref(), { replace: true, state: { setUp: true } })} />
      </section>
    </main>
  );
}
