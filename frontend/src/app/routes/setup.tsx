import { useState } from 'react';
import { Navigate, useNavigate } from 'react-router';
import { SetupForm, useSetupStatus } from '@/features/auth';
import { PRODUCT_NAME } from '../layout/app-shell';
import { paths } from '../paths';
import styles from './auth-page.module.css';

export function SetupRoute() {
  const status = useSetupStatus();
  const navigate = useNavigate();
  // Set once the form succeeds, so the page's own "already set up" redirect does not overtake ours.
  const [created, setCreated] = useState(false);
  if (status.data && !status.data.required && !created) return <Navigate to={paths.signIn.getHref()} replace />;
  return (
    <main className={styles.page}>
      <title>{`Set up · ${PRODUCT_NAME}`}</title>
      <section className={styles.card}>
        <h1>Set up {PRODUCT_NAME}</h1>
        <p>Create the admin account. It manages users, API tokens and settings.</p>
        <SetupForm
          onDone={() => {
            setCreated(true);
            void navigate(paths.signIn.getHref(), { replace: true, state: { setUp: true } });
          }}
        />
      </section>
    </main>
  );
}
