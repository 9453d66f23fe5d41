import { useEffect, useId, useRef, useState } from 'react';
import { problemMessage, type ReleaseSummary } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { useStartBuild } from '../api/builds';
import styles from './builds.module.css';

/**
 * "Build release" asks first: what will happen, where, and for how long. Forcing a rebuild of
 * templates already built is a separate, explicit choice (not offered for the active release).
 */
export function BuildConfirm({
  release,
  target,
  onStarted,
  onCancel,
}: {
  release: ReleaseSummary;
  target: string | null;
  onStarted: (id: number) => void;
  onCancel: () => void;
}) {
  const [force, setForce] = useState(false);
  const start = useStartBuild({ onSuccess: (build) => onStarted(build.id) });
  const titleId = useId();
  const panel = useRef<HTMLDivElement>(null);
  useEffect(() => panel.current?.focus(), []);

  return (
    <div
      ref={panel}
      className={styles.confirm}
      role="dialog"
      aria-modal="false"
      aria-labelledby={titleId}
      tabIndex={-1}
      onKeyDown={(event) => {
        if (event.key === 'Escape') onCancel();
      }}
    >
      <h3 id={titleId} className={styles.confirmTitle}>
        Build release {release.name}?
      </h3>
      <p>
        The Proxmox host{target ? <> (<code>{target}</code>)</> : null} runs community-scripts{' '}
        <code>{release.communityScriptsRef}</code> to create {release.templateCount} templates, then makes{' '}
        {release.name} the active release once every template is built. This takes a while; you can leave this page
        and come back.
      </p>
      {release.active ? null : (
        <label className={styles.checkbox}>
          <input type="checkbox" checked={force} onChange={(event) => setForce(event.target.checked)} />
          Rebuild templates that are already built for this release
        </label>
      )}
      {start.isError ? (
        <p className={styles.formError} role="alert">
          {problemMessage(start.error)}
        </p>
      ) : null}
      <div className={styles.confirmActions}>
        <Button variant="primary" onClick={() => start.mutate({ release: release.name, force })} disabled={start.isPending}>
          {start.isPending ? 'Starting…' : `Start build of ${release.name}`}
        </Button>
        <Button onClick={onCancel} disabled={start.isPending}>
          Cancel
        </Button>
      </div>
    </div>
  );
}
