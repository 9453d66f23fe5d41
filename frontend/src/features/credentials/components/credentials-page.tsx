import { useState } from 'react';
import { problemMessage, type ProjectCredentials, type SiteCredential } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { EmptyState } from '@/shared/ui/empty-state';
import { QueryError } from '@/shared/ui/query-error';
import { ExternalLinkIcon } from '@/shared/ui/icons';
import { useCredentials } from '../api/credentials';
import { credentialGroups, credentialName } from '../lib/credential-groups';
import { CredentialTable, type CredentialTableState } from './credential-table';
import { HandoverSheet } from './handover-sheet';
import { PasswordDialog, type Prompt } from './password-dialog';
import { RotateDialog } from './rotate-dialog';
import styles from './credentials.module.css';

function CredentialsView({ projectId, data }: { projectId: number; data: ProjectCredentials }) {
  const [values, setValues] = useState<ReadonlyMap<string, string>>(new Map());
  const [included, setIncludedSet] = useState<ReadonlySet<string>>(new Set());
  const [prompt, setPrompt] = useState<Prompt | null>(null);
  const [rotating, setRotating] = useState<SiteCredential | null>(null);
  const [rotated, setRotated] = useState<SiteCredential | null>(null);
  const [sheetAt, setSheetAt] = useState<Date | null>(null);

  const known = new Set(data.credentials.map((c) => c.id));
  const chosen = [...included].filter((id) => known.has(id));
  const state: CredentialTableState = {
    values,
    included,
    setIncluded: (id: string, on: boolean) =>
      setIncludedSet((current) => {
        const next = new Set(current);
        if (on) next.add(id);
        else next.delete(id);
        return next;
      }),
    reveal: (id: string) => setPrompt({ ids: [id], purpose: 'reveal' }),
    hide: (id: string) =>
      setValues((current) => {
        const next = new Map(current);
        next.delete(id);
        return next;
      }),
    rotate: (credential: SiteCredential) => {
      setRotated(null);
      setRotating(credential);
    },
  };

  function prepareSheet() {
    const missing = chosen.filter((id) => !values.has(id));
    if (missing.length > 0) setPrompt({ ids: missing, purpose: 'sheet' });
    else setSheetAt(new Date());
  }

  const { guests, site } = credentialGroups(data);
  return (
    <>
      <div className={styles.noPrint}>
        <p className={styles.intro}>
          Every secret the orchestrator generated or set for this site. Values stay hidden until you reveal them with your password;
          each reveal is recorded in the audit log. Tick the ones the customer should get on the hand-over sheet.
        </p>
        {rotated ? (
          <p role="status" className={styles.notice}>
            The {credentialName(rotated)} was rotated: the old value no longer works. Reveal it to see the new one.
          </p>
        ) : null}
        {guests.map(({ instance, app, credentials }) => (
          <section key={instance.instanceId} className={styles.group} aria-labelledby={`credentials-${instance.instanceId}`}>
            <div className={styles.groupHead}>
              <h2 id={`credentials-${instance.instanceId}`} className={styles.groupTitle}>
                {instance.hostname}
              </h2>
              <span className={styles.muted}>{app}</span>
              {instance.url ? (
                <a href={instance.url} target="_blank" rel="noreferrer noopener" className={styles.open}>
                  <ExternalLinkIcon />
                  {instance.url}
                </a>
              ) : null}
            </div>
            <CredentialTable title={instance.hostname} credentials={credentials} state={state} />
          </section>
        ))}
        {site.length > 0 ? (
          <section className={styles.group} aria-labelledby="credentials-site">
            <div className={styles.groupHead}>
              <h2 id="credentials-site" className={styles.groupTitle}>
                The whole site
              </h2>
              <span className={styles.muted}>MQTT and cameras</span>
            </div>
            <CredentialTable title="the whole site" credentials={site} state={state} />
          </section>
        ) : null}

        <section className={styles.group} aria-labelledby="handover-title">
          <h2 id="handover-title" className={styles.groupTitle}>
            Hand-over sheet
          </h2>
          <p className={styles.muted}>
            Every app&apos;s address and user names, and the {chosen.length === 1 ? 'secret' : `${chosen.length} secrets`} you
            ticked. Print it, or choose &ldquo;Save as PDF&rdquo; in the print dialog.
          </p>
          <div className={styles.sheetActions}>
            <Button variant="primary" onClick={prepareSheet}>
              Prepare the sheet
            </Button>
            {sheetAt ? (
              <>
                <Button onClick={() => window.print()}>Print or save as PDF</Button>
                <Button onClick={() => setSheetAt(null)}>Close the sheet</Button>
              </>
            ) : null}
          </div>
        </section>
      </div>

      {sheetAt ? (
        <HandoverSheet data={data} values={new Map(chosen.flatMap((id) => (values.has(id) ? [[id, values.get(id)!]] : [])))} preparedAt={sheetAt} />
      ) : null}

      {prompt ? (
        <PasswordDialog
          projectId={projectId}
          prompt={prompt}
          onClose={() => setPrompt(null)}
          onRevealed={(revealed) => {
            setValues((current) => new Map([...current, ...revealed.map((r) => [r.id, r.value] as const)]));
            if (prompt.purpose === 'sheet') setSheetAt(new Date());
            setPrompt(null);
          }}
        />
      ) : null}
      {rotating ? (
        <RotateDialog
          projectId={projectId}
          credential={rotating}
          onClose={() => setRotating(null)}
          onRotated={() => {
            state.hide(rotating.id);
            setRotated(rotating);
            setRotating(null);
          }}
        />
      ) : null}
    </>
  );
}

/**
 * A site's credentials for the admin: every secret, where it is used, revealed with the admin's
 * password, rotated where the orchestrator can push a new one; and the printable hand-over sheet.
 * Other roles are told it is for admins (the API refuses them too).
 */
export function CredentialsPage({ projectId, isAdmin }: { projectId: number; isAdmin: boolean }) {
  const query = useCredentials(projectId, { enabled: isAdmin });
  if (!isAdmin) {
    return (
      <EmptyState title="Credentials are for admins">
        <p>Only an admin can see a site&apos;s passwords and keys, and only after entering their password again.</p>
      </EmptyState>
    );
  }
  if (query.isPending) return <p role="status">Loading the credentials…</p>;
  if (query.isError) {
    return (
      <QueryError title="Could not load the credentials" query={query}>
        <p>{problemMessage(query.error)}</p>
      </QueryError>
    );
  }
  return <CredentialsView projectId={projectId} data={query.data} />;
}
