import { useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { ApiError, queryKeys } from '@/shared/api';
import { plural } from '@/shared/lib/format';
import { isDeploying, needsUsbBinding } from '@/shared/lib/instances';
import { Breadcrumb } from '@/shared/ui/breadcrumb';
import { buttonClass } from '@/shared/ui/button';
import { EmptyState } from '@/shared/ui/empty-state';
import { QueryError } from '@/shared/ui/query-error';
import { AlertTriangleIcon, CheckCircleIcon, XCircleIcon } from '@/shared/ui/icons';
import { ProgressBar } from '@/shared/ui/progress-bar';
import { RelativeTime } from '@/shared/ui/relative-time';
import { Skeleton } from '@/shared/ui/skeleton';
import { Spinner } from '@/shared/ui/spinner';
import { DEPLOY_POLL_MS, useDeploy } from '../api/get-deploy';
import { useProject } from '../api/get-project';
import { useInstanceEvents, type LiveMode } from '../api/use-instance-events';
import { mergeInstances, type LiveInstance } from '../lib/live-instances';
import { percentOf } from '../lib/steps';
import { InstanceCard } from './instance-card';
import styles from './deploy.module.css';

/** Whether the page hears about progress as it happens, or asks every 2 s. */
export function LiveIndicator({ mode }: { mode: LiveMode }) {
  if (mode === 'live') {
    return (
      <span className={styles.live} data-mode="live">
        <span className={styles.liveDot} aria-hidden="true" />
        Live
      </span>
    );
  }
  if (mode === 'connecting') {
    return (
      <span className={styles.live} data-mode="connecting">
        <Spinner /> Connecting…
      </span>
    );
  }
  return (
    <span className={`${styles.live} ${styles.livePolling}`} data-mode="polling">
      <AlertTriangleIcon /> Live updates unavailable — checking every {DEPLOY_POLL_MS / 1000} s
    </span>
  );
}

function Summary({ instances: all, settingsKnown, bindingCount, projectHref }: {
  instances: LiveInstance[];
  settingsKnown: boolean;
  bindingCount: number;
  projectHref: string | null;
}) {
  // Guests deleted since the deploy are history, not part of its progress.
  const instances = all.filter((i) => i.state !== 'deleted' && i.state !== 'deleting');
  const total = instances.length;
  const failed = instances.filter((i) => i.state === 'failed').length;
  const active = instances.filter((i) => i.state === 'active').length;
  const waiting = instances.filter((i) => i.state === 'waiting' || i.state === 'personalising').length;
  const working = instances.filter((i) => isDeploying(i.state) && i.state !== 'waiting' && i.state !== 'personalising').length;
  const overall = total ? Math.round(instances.reduce((sum, i) => sum + percentOf(i), 0) / total) : 0;
  const done = total > 0 && failed === 0 && active === total;
  const tone = failed ? 'danger' : done ? (bindingCount ? 'warning' : 'success') : 'info';

  const parts = [
    `${active} of ${total} active`,
    waiting ? `${waiting} waiting for first boot` : null,
    working ? `${working} deploying` : null,
    failed ? `${failed} failed` : null,
  ].filter(Boolean);

  return (
    <section className={styles.summaryPanel} data-tone={tone} aria-label="Overall progress">
      <div className={styles.summaryHead}>
        {failed ? (
          <XCircleIcon width={22} height={22} />
        ) : done ? (
          <CheckCircleIcon width={22} height={22} />
        ) : (
          <Spinner width={22} height={22} />
        )}
        <p className={styles.summaryTitle} role="status">
          {failed
            ? `${plural(failed, 'guest')} failed — retry or remove ${failed === 1 ? 'it' : 'them'} below.`
            : done
              ? `Done — ${total === 1 ? 'the guest is' : `all ${total} guests are`} up.`
              : `Deploying ${plural(total, 'guest')}…`}
        </p>
        <span className={styles.summaryPercent}>{overall}%</span>
      </div>
      <ProgressBar percent={overall} tone={tone} label="Overall progress" valueText={`${overall}%, ${parts.join(', ')}`} />
      <p className={styles.summaryLine}>{parts.join(' · ')}</p>
      {settingsKnown && bindingCount > 0 ? (
        <p className={styles.summaryLine}>
          <AlertTriangleIcon /> {plural(bindingCount, 'guest')} {bindingCount === 1 ? 'needs' : 'need'} a USB binding on the
          Proxmox host (see {bindingCount === 1 ? 'its card' : 'their cards'}).
        </p>
      ) : null}
      {done && projectHref ? (
        <p className={styles.summaryLine}>
          <Link to={projectHref} className={buttonClass('primary', 'small')}>
            Go to the project
          </Link>
        </p>
      ) : null}
    </section>
  );
}

/**
 * The live view of one deploy: per guest a progress bar, the current step and the steps passed;
 * failed guests in red with the reason behind Details and Retry/Remove. Follows the deploy's event
 * stream (works after a reload: the stream starts with a snapshot) and falls back to asking
 * GET /api/deploys/{id} every 2 s when the stream fails.
 */
export function DeployProgress({
  deployId,
  links,
  canOperate,
}: {
  deployId: number;
  links: { project: (id: number) => string; projects: string };
  canOperate: boolean;
}) {
  const queryClient = useQueryClient();
  const { progress, mode } = useInstanceEvents(`/api/deploys/${deployId}/events`, () => {
    void queryClient.invalidateQueries({ queryKey: queryKeys.deploy(deployId) });
  });
  const deploy = useDeploy({
    id: deployId,
    queryConfig: { refetchInterval: mode === 'polling' ? DEPLOY_POLL_MS : false },
  });
  const projectId = deploy.data?.projectId ?? [...progress.values()][0]?.projectId;
  const project = useProject({ id: projectId });

  if (deploy.isPending && progress.size === 0) {
    return (
      <div className={styles.loading} aria-busy="true">
        <p role="status">Loading the deploy…</p>
        <Skeleton />
        <Skeleton />
      </div>
    );
  }

  if (deploy.isError && progress.size === 0) {
    if (deploy.error instanceof ApiError && deploy.error.status === 404) {
      return (
        <EmptyState title="This deploy does not exist">
          <p>
            The address may be mistyped. See the <Link to={links.projects}>projects</Link> for what is deployed.
          </p>
        </EmptyState>
      );
    }
    return (
      <QueryError title="Could not load the deploy" query={deploy}>
        <p>Check this device's network connection to the provisioner, then try again.</p>
      </QueryError>
    );
  }

  const instances = mergeInstances(deploy.data?.instances ?? [], progress).filter((i) => i.deployId == null || i.deployId === deployId);
  const settings = project.data?.settings;
  const bindingCount = instances.filter((i) => i.state !== 'failed' && needsUsbBinding(settings, i)).length;
  const projectHref = projectId !== undefined ? links.project(projectId) : null;
  const started = deploy.data?.instances[0]?.createdAt;

  return (
    <div className={styles.page}>
      <Breadcrumb
        items={[
          { label: 'Projects', to: links.projects },
          ...(projectHref ? [{ label: project.data?.name ?? 'Project', to: projectHref }] : []),
          { label: `Deploy #${deployId}` },
        ]}
      />
      <div className={styles.pageHead}>
        <div>
          <h1 className={styles.pageTitle}>{project.data ? `Deploy to ${project.data.name}` : `Deploy #${deployId}`}</h1>
          <p className={styles.pageDescription}>
            {deploy.data?.release ? `Release ${deploy.data.release} · ` : ''}
            {plural(instances.length, 'guest')}
            {started ? (
              <>
                {' '}
                · started <RelativeTime date={started} />
              </>
            ) : null}
          </p>
        </div>
        <LiveIndicator mode={mode} />
      </div>

      <Summary instances={instances} settingsKnown={Boolean(settings)} bindingCount={bindingCount} projectHref={projectHref} />

      <div className={styles.grid}>
        {instances.map((instance) => (
          <InstanceCard
            key={instance.id}
            instance={instance}
            settings={settings}
            canOperate={canOperate}
            variant="progress"
            projectTypes={instances.map((i) => i.type)}
          />
        ))}
      </div>
    </div>
  );
}
