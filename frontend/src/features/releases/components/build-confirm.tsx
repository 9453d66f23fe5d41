import { useEffect, useId, useRef, useState } from 'react';
import { problemMessage, type ReleaseSummary } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { AlertTriangleIcon, CheckCircleIcon } from '@/shared/ui/icons';
import { Spinner } from '@/shared/ui/spinner';
import { useCheckBuild, useStartBuild } from '../api/builds';
import styles from './builds.module.css';

function names(templates: readonly string[]): string {
  return templates.length === 1 ? templates[0]! : `${templates.slice(0, -1).join(', ')} and ${templates[templates.length - 1]}`;
}

/**
 * "Build release" asks first: what will happen, where, and for how long — and checks the host before offering the
 * build (POST /api/releases/{r}/check: upstream, storage and free space, template VMIDs, tools; nothing changes).
 * With no problem the build is one click. With problems (or when the check could not run) they are listed and the
 * build needs an explicit "build anyway": the check can be wrong or concern only templates the dealer does not need
 * now, and the build itself checks each template again and fails only the ones concerned, so a dealer is never locked
 * out — but never starts an hours-long build without having seen why it may fail.
 * `templates` rebuilds some templates only (the others and their first-boot secret stay). Forcing a rebuild of
 * templates already built is a separate, explicit choice (not offered for the active release).
 */
export function BuildConfirm({
  release,
  templates,
  target,
  onStarted,
  onCancel,
}: {
  release: ReleaseSummary;
  templates?: string[] | undefined;
  target: string | null;
  onStarted: (id: number) => void;
  onCancel: () => void;
}) {
  const [force, setForce] = useState(false);
  const [anyway, setAnyway] = useState(false);
  const check = useCheckBuild();
  const start = useStartBuild({ onSuccess: (build) => onStarted(build.id) });
  const titleId = useId();
  const panel = useRef<HTMLDivElement>(null);
  const checked = useRef(false);
  useEffect(() => panel.current?.focus(), []);
  useEffect(() => {
    // Once per dialog (a second check would only wait for the first).
    if (checked.current) return;
    checked.current = true;
    check.mutate({ release: release.name, templates });
  }, [check, release.name, templates]);

  const ready = check.isSuccess && check.data.ok;
  const canStart = (ready || (anyway && (check.isSuccess || check.isError))) && !start.isPending;
  const recheck = () => {
    setAnyway(false);
    check.mutate({ release: release.name, templates });
  };

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
        {templates ? `Rebuild ${names(templates)} of release ${release.name}?` : `Build release ${release.name}?`}
      </h3>
      {templates ? (
        <p>
          The Proxmox host{target ? <> (<code>{target}</code>)</> : null} runs community-scripts{' '}
          <code>{release.communityScriptsRef}</code> to build {names(templates)} only. The other templates of {release.name},
          and the first-boot secret they carry, stay as they are; deploys can use what is built as soon as it is.
        </p>
      ) : (
        <p>
          The Proxmox host{target ? <> (<code>{target}</code>)</> : null} runs community-scripts{' '}
          <code>{release.communityScriptsRef}</code> to create {release.templateCount} templates. {release.name} becomes the
          active release as soon as one of them is built; a template that fails stays unavailable (with the reason) until you
          rebuild it alone. This takes a while; you can leave this page and come back.
        </p>
      )}

      {check.isPending || check.isIdle ? (
        <p className={styles.checking} role="status">
          <Spinner /> Checking the host first: upstream, storage and free space, template VMIDs and tools (up to 2 minutes)…
        </p>
      ) : check.isSuccess && check.data.ok ? (
        <p className={styles.checkOk} role="status">
          <CheckCircleIcon /> The host is ready for this build ({check.data.passed.length} checks passed).
        </p>
      ) : (
        <div className={styles.checkProblems} role="alert">
          <p>
            <AlertTriangleIcon />{' '}
            {check.isSuccess ? (
              <strong>
                The host check found {check.data.problems.length === 1 ? 'a problem' : `${check.data.problems.length} problems`}:
              </strong>
            ) : (
              <>
                <strong>The host could not be checked:</strong> {problemMessage(check.error)}
              </>
            )}
          </p>
          {check.isSuccess ? (
            <ul aria-label="Problems the host found">
              {check.data.problems.map((problem) => (
                <li key={problem}>{problem}</li>
              ))}
            </ul>
          ) : null}
          <p className={styles.muted}>
            Fix {check.isSuccess ? 'them' : 'it'} on the host and check again. A build started anyway fails the templates
            concerned; the others are built.
          </p>
        </div>
      )}
      {check.isSuccess && check.data.passed.length > 0 ? (
        <details className={styles.checkPassed}>
          <summary>Checks passed ({check.data.passed.length})</summary>
          <ul>
            {check.data.passed.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        </details>
      ) : null}

      {(check.isSuccess && !check.data.ok) || check.isError ? (
        <label className={styles.checkbox}>
          <input type="checkbox" checked={anyway} onChange={(event) => setAnyway(event.target.checked)} />
          Build anyway: I have read why it may fail
        </label>
      ) : null}
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
        <Button
          variant="primary"
          onClick={() => start.mutate({ release: release.name, force, templates })}
          disabled={!canStart}
        >
          {start.isPending ? 'Starting…' : templates ? `Start rebuild of ${names(templates)}` : `Start build of ${release.name}`}
        </Button>
        {check.isSuccess || check.isError ? (
          <Button onClick={recheck} disabled={start.isPending}>
            Check again
          </Button>
        ) : null}
        <Button onClick={onCancel} disabled={start.isPending}>
          Cancel
        </Button>
      </div>
    </div>
  );
}
