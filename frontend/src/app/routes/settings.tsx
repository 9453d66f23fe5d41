import { Link } from 'react-router';
import { AlertIncidents, AlertTargets } from '@/features/alerts';
import { ChangePasswordForm, useCurrentUser } from '@/features/auth';
import { PlatformConnection } from '@/features/platform';
import { BackupDownload, BuildKeyPassphrase, ProxmoxConnection, TlsCertificate } from '@/features/settings';
import form from '@/shared/ui/form.module.css';
import { PageHeader } from '@/shared/ui/page-header';
import { paths } from '../paths';

export function SettingsRoute() {
  const me = useCurrentUser();
  return (
    <>
      <title>Settings · Ctrlable Provisioner</title>
      <PageHeader title="Settings" description="This provisioner's HTTPS certificate, its Proxmox host and build key, its backup, its connection to the Ctrlable platform, and your account." />
      <section className={form.section}>
        <h2>HTTPS certificate</h2>
        <p>Templates and the host build wrapper pin this fingerprint; compare it with what your browser shows.</p>
        <TlsCertificate />
      </section>
      {me.data?.role === 'admin' ? (
        <section className={form.section}>
          <h2>Proxmox host</h2>
          <p>The host this provisioner deploys on, and the API token it uses. The token secret is kept encrypted.</p>
          <ProxmoxConnection />
        </section>
      ) : null}
      {me.data?.role === 'admin' ? (
        <section className={form.section}>
          <h2>Build key</h2>
          <p>The SSH key that starts release builds on the host. If it has a passphrase, store it here (encrypted).</p>
          <BuildKeyPassphrase />
        </section>
      ) : null}
      {me.data?.role === 'admin' ? (
        <section className={form.section}>
          <h2>Backup of this provisioner</h2>
          <p>
            Its database, key ring, HTTPS certificate and settings in one encrypted file: without it, losing this
            container loses every site credential. Restore it with <code>--restore-from</code> (see the README).
          </p>
          <BackupDownload />
        </section>
      ) : null}
      {me.data?.role === 'admin' ? (
        <section className={form.section}>
          <h2>Alerts</h2>
          <p>
            Where failures and incidents are sent: webhooks, ntfy, e-mail. <Link to={paths.alerts.getHref()}>Notification targets and incidents</Link>
          </p>
        </section>
      ) : null}
      <section className={form.section}>
        <h2>Ctrlable platform</h2>
        <p>The site reports its release and instances to the central Ctrlable management platform.</p>
        <PlatformConnection canManage={me.data?.role === 'admin'} />
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

/** Settings › Alerts: notification targets (admins) and the latest incidents. */
export function AlertsRoute() {
  const me = useCurrentUser();
  return (
    <>
      <title>Alerts · Ctrlable Provisioner</title>
      <PageHeader title="Alerts" description="One notification per incident (and one when it is resolved), at most a few per target and hour." />
      {me.data?.role === 'admin' ? (
        <section className={form.section}>
          <h2>Notification targets</h2>
          <p>Secrets are stored encrypted and never shown again.</p>
          <AlertTargets />
        </section>
      ) : (
        <p>Notification targets are for admins.</p>
      )}
      <section className={form.section}>
        <h2>Incidents</h2>
        <AlertIncidents />
      </section>
    </>
  );
}
