import { ChangePasswordForm, useCurrentUser } from '@/features/auth';
import { TlsCertificate } from '@/features/settings';
import form from '@/shared/ui/form.module.css';
import { PageHeader } from '@/shared/ui/page-header';

export function SettingsRoute() {
  const me = useCurrentUser();
  return (
    <>
      <title>Settings · Ctrlable Provisioner</title>
      <PageHeader title="Settings" description="This provisioner's HTTPS certificate, and your account." />
      <section className={form.section}>
        <h2>HTTPS certificate</h2>
        <p>Templates and the host build wrapper pin this fingerprint; compare it with what your browser shows.</p>
        <TlsCertificate />
      </section>
      {me.data?.kind === 'user' ? (
        <section className={form.section}>
          <h2>Change your password</h2>
          <ChangePasswordForm />
        </section>
      ) : null}
    </>
  );
}
