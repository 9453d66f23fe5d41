import { useEffect, useRef, useState } from 'react';
import type { BuildSummary, BuildTemplateProgress } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { AlertTriangleIcon } from '@/shared/ui/icons';
import { RelativeTime } from '@/shared/ui/relative-time';
import { Spinner } from '@/shared/ui/spinner';
import { useInvalidateAfterBuild } from '../api/builds';
import { useBuildStream } from '../api/use-build-stream';
import { BuildStateBadge, TemplateStateBadge } from './build-state-badge';
import { GITHUB_DIGEST_NOTE } from './release-templates';
import styles from './builds.module.css';

/** How far a template is, 0..1: built or kept = done; failed shows where it stopped. */
export function templateFraction(template: BuildTemplateProgress): number {
  if (template.state === 'built' || template.state === 'skipped') return 1;
  if (template.steps <= 0) return 0;
  return Math.min(1, Math.max(0, template.step / template.steps));
}

function stepLine(template: BuildTemplateProgress): string {
  switch (template.state) {
    case 'pending':
      return 'Waiting for the templates before it';
    case 'skipped':
      return template.stepText ?? 'Already built for this release and ref';
    case 'built':
      return template.appVersion ? `Built · app version ${template.appVersion}` : 'Built';
    case 'failed':
      return template.steps > 0 ? `Stopped at step ${template.step} of ${template.steps}` : 'Did not start';
    case 'running':
      return template.steps > 0
        ? `Step ${template.step} of ${template.steps}: ${template.stepText ?? ''}`.trimEnd()
        : 'Starting…';
  }
}

function TemplateProgress({ template }: { template: BuildTemplateProgress }) {
  const fraction = templateFraction(template);
  const line = stepLine(template);
  return (
    <li className={styles.template} data-template={template.name} data-state={template.state}>
      <div className={styles.templateHead}>
        <span className={styles.templateName}>{template.name}</span>
        <span className={styles.templateMeta}>
          {template.kind === 'vm' ? 'VM' : 'LXC'} {template.vmid}
        </span>
        <TemplateStateBadge state={template.state} />
      </div>
      <progress
        className={`${styles.progress} ${styles[`progress-${template.state}`] ?? ''}`}
        max={100}
        value={Math.round(fraction * 100)}
        aria-label={`${template.name} progress`}
        aria-valuetext={`${Math.round(fraction * 100)}%, ${line}`}
      />
      <p className={styles.stepLine}>{line}</p>
      {template.haosDigest === 'github' ? <p className={styles.digestNote}>HAOS image {GITHUB_DIGEST_NOTE}</p> : null}
      {template.state === 'failed' && template.error ? (
        <p className={styles.templateError} role="note">
          <AlertTriangleIcon />
          {template.error}
        </p>
      ) : null}
    </li>
  );
}

/** The log so far; stays at the bottom while new lines arrive unless the reader scrolled up. */
function BuildLog({ lines, live }: { lines: string[]; live: boolean }) {
  const ref = useRef<HTMLPreElement>(null);
  const [follow, setFollow] = useState(true);
  useEffect(() => {
    const element = ref.current;
    if (element && follow) element.scrollTop = element.scrollHeight;
  }, [lines, follow]);
  return (
    <details className={styles.logDetails} open>
      <summary>
        Log <span className={styles.muted}>· {lines.length} lines</span>
      </summary>
      <pre
        ref={ref}
        className={styles.log}
        role="log"
        aria-label="Build log"
        aria-live="off"
        tabIndex={0}
        onScroll={(event) => {
          const element = event.currentTarget;
          setFollow(element.scrollHeight - element.scrollTop - element.clientHeight < 24);
        }}
      >
        {lines.length === 0 ? (live ? 'Waiting for the host…' : 'No output.') : lines.join('\n')}
      </pre>
    </details>
  );
}

function Commit({ value }: { value: string }) {
  return <code title={value}>{value.slice(0, 12)}</code>;
}

/**
 * One build, live while it runs (server-sent events): per template a progress bar and what it is
 * doing now, then the streaming log. Shows a finished build the same way.
 */
export function BuildView({ id, onClose }: { id: number; onClose?: () => void }) {
  const invalidate = useInvalidateAfterBuild();
  const { build, lines, ended, reconnecting } = useBuildStream(id, { onEnd: invalidate });

  if (!build) {
    return (
      <section className={styles.view} aria-label={`Build ${id}`} aria-busy="true">
        <p role="status" className={styles.loading}>
          <Spinner /> Loading build {id}…
        </p>
      </section>
    );
  }

  return <BuildPanel build={build} lines={lines} ended={ended} reconnecting={reconnecting} onClose={onClose} />;
}

function BuildPanel({
  build,
  lines,
  ended,
  reconnecting,
  onClose,
}: {
  build: BuildSummary;
  lines: string[];
  ended: boolean;
  reconnecting: boolean;
  onClose?: (() => void) | undefined;
}) {
  const running = build.state === 'running';
  const done = build.templates.filter((t) => t.state === 'built' || t.state === 'skipped').length;
  return (
    <section className={styles.view} aria-labelledby={`build-${build.id}-title`} data-build={build.id}>
      <header className={styles.viewHead}>
        <div>
          <h2 id={`build-${build.id}-title`} className={styles.viewTitle}>
            Build {build.id} · release {build.release}
          </h2>
          <p className={styles.viewMeta}>
            Started <RelativeTime date={build.startedAt} />
            {build.requestedBy ? ` by ${build.requestedBy}` : null}
            {build.communityScriptsRef ? (
              <>
                {' · community-scripts '}
                <code>{build.communityScriptsRef}</code>
                {build.communityScriptsCommit ? (
                  <>
                    {' at '}
                    <Commit value={build.communityScriptsCommit} />
                  </>
                ) : null}
              </>
            ) : null}
            {build.requestedTemplates ? ` · only ${build.requestedTemplates.join(', ')}` : null}
            {build.forced ? (build.requestedTemplates ? ' · rebuilt even if built' : ' · rebuilding everything') : null}
          </p>
        </div>
        <div className={styles.viewActions}>
          <BuildStateBadge state={build.state} />
          {onClose ? (
            <Button onClick={onClose} aria-label={`Close build ${build.id}`}>
              Close
            </Button>
          ) : null}
        </div>
      </header>
      <p className={styles.overall} role="status">
        {running
          ? `${done} of ${build.templates.length} templates done. You can leave this page; the build goes on.`
          : build.state === 'succeeded'
            ? build.requestedTemplates
              ? `Built: ${build.templates.map((t) => t.name).join(', ')}. Release ${build.release} is the active release.`
              : `All ${build.templates.length} templates are built. Release ${build.release} is the active release.`
            : done > 0
              ? `${done} of ${build.templates.length} templates built; they made release ${build.release} the active release. The failed ones cannot be deployed until they are rebuilt (open the release's templates).`
              : `${done} of ${build.templates.length} templates built. The active release did not change.`}
        {reconnecting && !ended ? ' Reconnecting…' : null}
      </p>
      {build.state === 'failed' && build.error ? (
        <p className={styles.failure} role="alert">
          <AlertTriangleIcon />
          <span>{build.error}</span>
        </p>
      ) : null}
      <ul className={styles.templates} aria-label="Templates">
        {build.templates.map((template) => (
          <TemplateProgress key={template.name} template={template} />
        ))}
      </ul>
      <BuildLog lines={lines} live={running} />
    </section>
  );
}
