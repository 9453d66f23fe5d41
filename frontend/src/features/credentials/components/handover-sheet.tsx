import type { ProjectCredentials, SiteCredential } from '@/shared/api';
import { credentialGroups } from '../lib/credential-groups';
import styles from './credentials.module.css';

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'long', timeStyle: 'short' });

function CredentialLine({ credential, value }: { credential: SiteCredential; value: string | undefined }) {
  return (
    <div className={styles.sheetLine}>
      <dt>{credential.label}</dt>
      <dd>
        {credential.username ? (
          <span>
            User <code>{credential.username}</code>
          </span>
        ) : null}
        {value !== undefined ? (
          <span>
            {credential.username ? ' · ' : null}
            <code className={styles.sheetSecret}>{value}</code>
          </span>
        ) : (
          <span className={styles.sheetMuted}>{credential.username ? ' · ' : null}secret not included</span>
        )}
      </dd>
    </div>
  );
}

/**
 * The printable hand-over sheet: the site, each guest's app with its address, the user names, and
 * the values of the secrets the dealer ticked. With the page's print stylesheet, the browser's
 * print (or "Save as PDF") shows this sheet alone.
 */
export function HandoverSheet({
  data,
  values,
  preparedAt,
}: {
  data: ProjectCredentials;
  /** Revealed values of the included secrets, by credential id. */
  values: ReadonlyMap<string, string>;
  preparedAt: Date;
}) {
  const { guests, site } = credentialGroups(data);
  return (
    <article className={styles.sheet} aria-label="Hand-over sheet" data-print-sheet="">
      <header className={styles.sheetHeader}>
        <h2 className={styles.sheetTitle}>{data.projectName}</h2>
        <p>
          Hand-over sheet · <code>{data.slug}</code> · prepared {dateFormat.format(preparedAt)}
        </p>
      </header>
      {guests.map(({ instance, app, credentials }) => (
        <section key={instance.instanceId} className={styles.sheetSection} aria-label={`${instance.hostname} on the sheet`}>
          <h3>
            {app} — {instance.hostname}
          </h3>
          <dl>
            <div className={styles.sheetLine}>
              <dt>Address</dt>
              <dd>{instance.url ? <code>{instance.url}</code> : <span className={styles.sheetMuted}>not known yet</span>}</dd>
            </div>
            {credentials.map((credential) => (
              <CredentialLine key={credential.id} credential={credential} value={values.get(credential.id)} />
            ))}
          </dl>
        </section>
      ))}
      {site.length > 0 ? (
        <section className={styles.sheetSection} aria-label="The whole site on the sheet">
          <h3>The whole site</h3>
          <dl>
            {site.map((credential) => (
              <CredentialLine key={credential.id} credential={credential} value={values.get(credential.id)} />
            ))}
          </dl>
        </section>
      ) : null}
      <footer className={styles.sheetFooter}>
        Keep this sheet where only the customer can read it: it gives access to the site. Prepared with the Ctrlable Provisioner.
      </footer>
    </article>
  );
}
