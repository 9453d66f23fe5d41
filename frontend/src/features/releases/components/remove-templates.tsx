import { useState } from 'react';
import { problemMessage, type ReleaseTemplate } from '@/shared/api';
import { formatAbsolute } from '@/shared/lib/format';
import { Button } from '@/shared/ui/button';
import { TrashIcon } from '@/shared/ui/icons';
import { QueryError } from '@/shared/ui/query-error';
import { Spinner } from '@/shared/ui/spinner';
import { useReleaseTemplates, useRemoveReleaseTemplates } from '../api/release-templates';
import styles from './remove-templates.module.css';

const STATE_TEXT: Record<ReleaseTemplate['state'], string> = {
  present: 'on this host',
  gone: 'no longer on the host (only the record is left)',
  foreign: 'its VMID holds a guest the orchestrator did not build: left alone',
  unproven: 'not proven ours (no proof of ownership recorded): the orchestrator never removes it',
};

function TemplateLine({ template }: { template: ReleaseTemplate }) {
  return (
    <li className={styles.item} data-template={template.name}>
      <span>
        <strong>{template.name}</strong>{' '}
        <span className={styles.meta}>
          {template.kind === 'lxc' ? 'CT' : 'VM'} {template.vmid} on {template.node} · {STATE_TEXT[template.state]}
        </span>
      </span>
      {template.holders.length > 0 ? (
        <>
          <span>Held by (linked clones of its base volume):</span>
          <ul className={styles.holders} aria-label={`Guests holding ${template.name}`}>
            {template.holders.map((holder) => (
              <li key={holder.vmid}>
                {holder.name ? `${holder.name} (${holder.vmid})` : `VMID ${holder.vmid}`}
                {holder.node ? ` on ${holder.node}` : null} <code className={styles.meta}>{holder.volume}</code>
              </li>
            ))}
          </ul>
        </>
      ) : template.reason ? (
        <span className={styles.meta}>{template.reason}</span>
      ) : null}
    </li>
  );
}

/**
 * The templates of a release that is not active, the guests that still hold each one's base volume, and for admins
 * "Remove templates" with a confirmation. Removal is refused (and says by whom) while any guest holds one.
 */
export function RemoveTemplates({ release, canRemove }: { release: string; canRemove: boolean }) {
  const query = useReleaseTemplates(release);
  const removal = useRemoveReleaseTemplates();
  const [confirming, setConfirming] = useState(false);

  if (query.isPending) {
    return (
      <p className={styles.meta} role="status">
        <Spinner /> Looking for guests that hold the templates of {release}…
      </p>
    );
  }
  if (query.isError) return <QueryError title={`Could not read the templates of ${release}`} query={query} />;

  const { templates, templatesRemovedAt, removeAutomaticallyAt } = query.data;
  if (templates.length === 0) {
    return templatesRemovedAt ? <p className={styles.done}>The templates of {release} were removed.</p> : null;
  }

  const held = templates.filter((t) => t.holders.length > 0);
  const removable = templates.filter((t) => t.removable);
  const blocked =
    held.length > 0
      ? `Guests still hold ${held.map((t) => t.name).join(', ')}: remove or re-create them first.`
      : removable.length === 0
        ? 'None of these templates can be removed by the orchestrator.'
        : null;

  return (
    <section className={styles.panel} aria-label={`Templates of ${release} on this host`}>
      <h3 className={styles.title}>Templates of {release} on this host</h3>
      <ul className={styles.list}>
        {templates.map((template) => (
          <TemplateLine key={template.name} template={template} />
        ))}
      </ul>
      {removeAutomaticallyAt ? (
        <p className={styles.meta} data-testid="automatic-removal">
          The orchestrator removes the proven templates by itself from {formatAbsolute(removeAutomaticallyAt)} (
          <code>Releases:RemoveTemplatesAfterDays</code>), unless a guest still holds one then; templates not proven ours stay
          for you to remove by hand.
        </p>
      ) : null}
      {canRemove ? (
        <div className={styles.actions}>
          {confirming ? (
            <>
              <span>
                Destroy {removable.map((t) => `${t.name} (${t.vmid})`).join(', ')} on the Proxmox host? This cannot be undone;
                building {release} again makes them anew.
              </span>
              <Button
                variant="danger"
                disabled={removal.isPending}
                onClick={() =>
                  removal.mutate(release, {
                    onSettled: () => setConfirming(false),
                  })
                }
              >
                {removal.isPending ? <Spinner /> : <TrashIcon />}
                Remove
              </Button>
              <Button onClick={() => setConfirming(false)} disabled={removal.isPending}>
                Cancel
              </Button>
            </>
          ) : (
            <Button
              variant="danger"
              onClick={() => {
                removal.reset();
                setConfirming(true);
              }}
              disabled={blocked !== null}
              title={blocked ?? undefined}
              aria-label={`Remove templates of ${release}`}
            >
              <TrashIcon />
              Remove templates
            </Button>
          )}
          {blocked ? <span className={styles.meta}>{blocked}</span> : null}
        </div>
      ) : null}
      {removal.isError ? (
        <p className={styles.error} role="alert">
          {problemMessage(removal.error)}
        </p>
      ) : null}
      {removal.isSuccess ? (
        <p className={styles.done} role="status">
          {removal.data.templates.map((t) => `${t.name}: ${t.detail}`).join(' ')}
        </p>
      ) : null}
    </section>
  );
}
