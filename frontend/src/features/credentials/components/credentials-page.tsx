import { useState, type FormEvent } from 'react';
import { ApiError, problemCode, problemMessage, type ProjectCredentials, type SiteCredential } from '@/shared/api';
import { componentName } from '@/shared/lib/instances';
import { Button } from '@/shared/ui/button';
import { CopyButton } from '@/shared/ui/copy-button';
import { Dialog } from '@/shared/ui/dialog';
import { EmptyState } from '@/shared/ui/empty-state';
import { ErrorState } from '@/shared/ui/error-state';
import { Field, FormError } from '@/shared/ui/field';
import { ExternalLinkIcon, RotateIcon } from '@/shared/ui/icons';
import { RelativeTime } from '@/shared/ui/relative-time';
import table from '@/shared/ui/table.module.css';
import { useCredentials, useRevealCredentials, useRotateCredential } from '../api/credentials';
import { HandoverSheet } from './handover-sheet';
import styles from './credentials.module.css';

type Prompt = { ids: string[]; purpose: 'reveal' | 'sheet' };

/** Asks the admin's password again before values are revealed; says plainly when it was wrong. */
function PasswordDialog({
  projectId,
  prompt,
  onRevealed,
  onClose,
}: {
  projectId: number;
  prompt: Prompt;
  onRevealed: (values: { id: string; value: string }[]) => void;
  onClose: () => void;
}) {
  const [password, setPassword] = useState('');
  const reveal = useRevealCredentials();

  function submit(event: FormEvent) {
    event.preventDefault();
    reveal.mutate(
      { projectId, credentialIds: prompt.ids, password },
      {
        onSuccess: (values) => onRevealed(values),
        onSettled: () => setPassword(''),
      },
    );
  }

  const wrong = reveal.error instanceof ApiError && problemCode(reveal.error) === 'wrong-password';
  const count = prompt.ids.length;
  return (
    <Dialog
      title="Confirm with your password"
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" type="submit" form="reveal-form" disabled={reveal.isPending || password.length === 0}>
            {prompt.purpose === 'sheet' ? 'Prepare the sheet' : count === 1 ? 'Reveal' : `Reveal ${count}`}
          </Button>
        </>
      }
    >
      <form id="reveal-form" onSubmit={submit} noValidate>
        <p>
          {count === 1 ? 'This secret is' : `These ${count} secrets are`} shown only after you enter your own password again. Each
          reveal is recorded in the audit log (who, which secret, when).
        </p>
        <Field
          label="Your password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          errors={wrong ? ['That is not your password. Nothing was revealed.'] : undefined}
        />
        {reveal.isError && !wrong ? <FormError>{problemMessage(reveal.error)}</FormError> : null}
      </form>
    </Dialog>
  );
}

function RotateDialog({
  projectId,
  credential,
  onRotated,
  onClose,
}: {
  projectId: number;
  credential: SiteCredential;
  onRotated: () => void;
  onClose: () => void;
}) {
  const rotate = useRotateCredential();
  return (
    <Dialog
      title={`Rotate the ${credential.label.toLowerCase()}?`}
      tone="danger"
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            variant="danger"
            disabled={rotate.isPending}
            onClick={() => rotate.mutate({ projectId, credentialId: credential.id }, { onSuccess: onRotated })}
          >
            <RotateIcon />
            {rotate.isPending ? 'Rotating…' : 'Rotate'}
          </Button>
        </>
      }
    >
      <p>
        A new value is generated and set in {credential.hostname ?? 'the site'} first; only then is it stored here, and the old one
        stops working. Whoever uses the old one needs the new one.
      </p>
      {rotate.isError ? (
        <div role="alert" className={styles.rotateError}>
          <p>
            <strong>Not rotated.</strong> {problemMessage(rotate.error)}
          </p>
        </div>
      ) : null}
    </Dialog>
  );
}

function CredentialRow({
  credential,
  value,
  included,
  onInclude,
  onReveal,
  onHide,
  onRotate,
}: {
  credential: SiteCredential;
  value: string | undefined;
  included: boolean;
  onInclude: (included: boolean) => void;
  onReveal: () => void;
  onHide: () => void;
  onRotate: () => void;
}) {
  const where = credential.hostname ? ` of ${credential.hostname}` : '';
  return (
    <tr>
      <td>
        <input
          type="checkbox"
          checked={included}
          onChange={(e) => onInclude(e.target.checked)}
          aria-label={`Include the ${credential.label}${where} on the hand-over sheet`}
        />
      </td>
      <th scope="row" className={styles.what}>
        {credential.label}
        <span className={styles.usedBy}>{credential.usedBy}</span>
      </th>
      <td>{credential.username ? <code>{credential.username}</code> : <span className={styles.muted}>—</span>}</td>
      <td>
        {value !== undefined ? (
          <div className={styles.value}>
            <code className={styles.secret} aria-label={`Value of the ${credential.label}${where}`}>
              {value}
            </code>
            <CopyButton text={value} />
          </div>
        ) : (
          <span aria-label="hidden">••••••••</span>
        )}
      </td>
      <td>{credential.updatedAt ? <RelativeTime date={credential.updatedAt} /> : '—'}</td>
      <td className={table.actions}>
        {value !== undefined ? (
          <Button size="small" onClick={onHide}>
            Hide
          </Button>
        ) : (
          <Button size="small" onClick={onReveal} aria-label={`Reveal the ${credential.label}${where}`}>
            Reveal
          </Button>
        )}{' '}
        {credential.rotatable ? (
          <Button size="small" onClick={onRotate} aria-label={`Rotate the ${credential.label}${where}`}>
            <RotateIcon />
            Rotate
          </Button>
        ) : (
          <details className={styles.why}>
            <summary>Not rotatable</summary>
            <p>{credential.notRotatableReason}</p>
          </details>
        )}
      </td>
    </tr>
  );
}

function CredentialTable({
  title,
  credentials,
  state,
}: {
  title: string;
  credentials: SiteCredential[];
  state: {
    values: ReadonlyMap<string, string>;
    included: ReadonlySet<string>;
    setIncluded: (id: string, included: boolean) => void;
    reveal: (id: string) => void;
    hide: (id: string) => void;
    rotate: (credential: SiteCredential) => void;
  };
}) {
  if (credentials.length === 0) return <p className={styles.muted}>No secrets of its own.</p>;
  return (
    <table className={`${table.table} ${styles.table}`} aria-label={`Secrets of ${title}`}>
      <thead>
        <tr>
          <th scope="col">
            <span className="visually-hidden">On the sheet</span>
          </th>
          <th scope="col">Secret and where it is used</th>
          <th scope="col">User</th>
          <th scope="col">Value</th>
          <th scope="col">Stored</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {credentials.map((credential) => (
          <CredentialRow
            key={credential.id}
            credential={credential}
            value={state.values.get(credential.id)}
            included={state.included.has(credential.id)}
            onInclude={(on) => state.setIncluded(credential.id, on)}
            onReveal={() => state.reveal(credential.id)}
            onHide={() => state.hide(credential.id)}
            onRotate={() => state.rotate(credential)}
          />
        ))}
      </tbody>
    </table>
  );
}

function CredentialsView({ projectId, data }: { projectId: number; data: ProjectCredentials }) {
  const [values, setValues] = useState<ReadonlyMap<string, string>>(new Map());
  const [included, setIncludedSet] = useState<ReadonlySet<string>>(new Set());
  const [prompt, setPrompt] = useState<Prompt | null>(null);
  const [rotating, setRotating] = useState<SiteCredential | null>(null);
  const [rotated, setRotated] = useState<string | null>(null);
  const [sheetAt, setSheetAt] = useState<Date | null>(null);

  const known = new Set(data.credentials.map((c) => c.id));
  const chosen = [...included].filter((id) => known.has(id));
  const state = {
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

  const site = data.credentials.filter((c) => c.instanceId == null);
  return (
    <>
      <div className={styles.noPrint}>
        <p className={styles.intro}>
          Every secret the orchestrator generated or set for this site. Values stay hidden until you reveal them with your password;
          each reveal is recorded in the audit log. Tick the ones the customer should get on the hand-over sheet.
        </p>
        {rotated ? (
          <p role="status" className={styles.notice}>
            {rotated} was rotated: the old value no longer works. Reveal it to see the new one.
          </p>
        ) : null}
        {data.instances.map((instance) => {
          const title = instance.hostname;
          return (
            <section key={instance.instanceId} className={styles.group} aria-labelledby={`credentials-${instance.instanceId}`}>
              <div className={styles.groupHead}>
                <h2 id={`credentials-${instance.instanceId}`} className={styles.groupTitle}>
                  {title}
                </h2>
                <span className={styles.muted}>{instance.app ?? componentName(instance.type)}</span>
                {instance.url ? (
                  <a href={instance.url} target="_blank" rel="noreferrer noopener" className={styles.open}>
                    <ExternalLinkIcon />
                    {instance.url}
                  </a>
                ) : null}
              </div>
              <CredentialTable title={title} credentials={data.credentials.filter((c) => c.instanceId === instance.instanceId)} state={state} />
            </section>
          );
        })}
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
            setRotated(`The ${rotating.label}${rotating.hostname ? ` of ${rotating.hostname}` : ''}`);
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
      <ErrorState
        title="Could not load the credentials"
        details={query.error instanceof ApiError ? query.error.technicalSummary : problemMessage(query.error)}
        onRetry={() => void query.refetch()}
      >
        <p>{problemMessage(query.error)}</p>
      </ErrorState>
    );
  }
  return <CredentialsView projectId={projectId} data={query.data} />;
}
