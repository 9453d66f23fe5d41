import { useState } from 'react';
import { Link } from 'react-router';
import { ApiError, problemMessage, type AppHealth, type SiteSettings } from '@/shared/api';
import {
  componentName,
  guestKindShort,
  instanceStateLabel,
  instanceStateTone,
  isDeploying,
  isUpgrading,
  needsUsbBinding,
  usbDeviceFor,
} from '@/shared/lib/instances';
import { AppHealthBadge } from '@/shared/ui/app-health-badge';
import { Button } from '@/shared/ui/button';
import {
  ExternalLinkIcon,
  PlayIcon,
  PowerIcon,
  RefreshIcon,
  RotateIcon,
  TrashIcon,
  UsbIcon,
} from '@/shared/ui/icons';
import { InstanceStateBadge } from '@/shared/ui/instance-state-badge';
import { ProgressBar } from '@/shared/ui/progress-bar';
import { Spinner } from '@/shared/ui/spinner';
import { RelativeTime } from '@/shared/ui/relative-time';
import { BadgeGroup, StatusBadge, type StatusTone } from '@/shared/ui/status-badge';
import { ToneIcon } from '@/shared/ui/tone-icon';
import { VisuallyHidden } from '@/shared/ui/visually-hidden';
import { useInstanceAction, type InstanceAction } from '../api/instance-actions';
import { appLink, appOf } from '../lib/apps';
import type { LiveInstance } from '../lib/live-instances';
import { percentOf, stepLabel, stepsOf, failedAt } from '../lib/steps';
import { DeleteInstanceDialog } from './delete-instance-dialog';
import { StepList } from './step-list';
import { UpgradeDialog } from './upgrade-dialog';
import styles from './deploy.module.css';
import { FactsList, MissingFact } from '@/shared/ui/facts-list';

export type PowerState = 'running' | 'stopped' | null;

/**
 * The guest's last backup as the project's backups know it (SPEC §8h): when it was made (null: none yet), and whether
 * one is missing (older than the schedule allows) or the latest run failed without backing this guest up.
 */
export type LastBackup = { at: string | null; problem: 'missing' | 'failed' | null };

/** "2 h ago"; "none yet"; or, in the alert tone, "Failed"/"Missing" and the last one's time. */
function LastBackupValue({ backup }: { backup: LastBackup }) {
  const when = backup.at ? <RelativeTime date={backup.at} /> : <MissingFact>none yet</MissingFact>;
  if (!backup.problem) return when;
  const tone: StatusTone = backup.problem === 'failed' ? 'danger' : 'warning';
  return (
    <span data-backup-problem={backup.problem}>
      <StatusBadge tone={tone} icon={<ToneIcon tone={tone} width={14} height={14} />}>
        {backup.problem === 'failed' ? 'Failed' : 'Missing'}
      </StatusBadge>{' '}
      {backup.at ? <>last {when}</> : when}
    </span>
  );
}

const PENDING_WORDS: Record<InstanceAction, string> = {
  start: 'Starting…',
  stop: 'Stopping…',
  shutdown: 'Stopping…',
  reboot: 'Rebooting…',
  retry: 'Retrying…',
  delete: 'Deleting…',
};

const FAILED_WORDS: Record<InstanceAction, string> = {
  start: 'Could not start',
  stop: 'Could not force-stop',
  shutdown: 'Could not stop',
  reboot: 'Could not reboot',
  retry: 'Could not retry',
  delete: 'Could not delete',
};

/** The badge of a guest: its instance state, except that a deployed guest that is powered off says "Stopped". */
function shownStatus(instance: LiveInstance, power: PowerState, binding: boolean): { tone: StatusTone; label: string } {
  const settled = ['active', 'waiting', 'personalising', 'needs-binding'].includes(instance.state);
  if (settled && power === 'stopped') return { tone: 'neutral', label: 'Stopped' };
  if (instance.state === 'active' && binding) return { tone: 'warning', label: 'Needs USB binding' };
  return { tone: instanceStateTone(instance.state), label: instanceStateLabel(instance.state) };
}

function UsbBindingNote({ instance, device }: { instance: LiveInstance; device: string }) {
  const guest = instance.vmid != null ? `${guestKindShort(instance.kind)} ${instance.vmid}` : 'the guest';
  return (
    <p className={styles.bindingNote} role="note">
      <UsbIcon width={18} height={18} />
      <span>
        <strong>Needs a USB binding on the Proxmox host.</strong> Pass <code>{device}</code> through to {guest}{' '}
        (Proxmox: {guest} → Resources → Add → Device Passthrough), then restart it.
      </span>
    </p>
  );
}

function FailureBox({ instance }: { instance: LiveInstance }) {
  return (
    <div className={styles.failure}>
      <p className={styles.failureTitle}>
        {instance.message?.trim() || `Failed at “${stepLabel(failedAt(instance))}”`}
      </p>
      <details className={styles.disclosure}>
        <summary>
          Details<VisuallyHidden> of why {instance.hostname} failed</VisuallyHidden>
        </summary>
        <pre className={styles.failureReason}>{instance.error?.trim() || 'No reason was recorded for this failure.'}</pre>
      </details>
    </div>
  );
}

/**
 * One deployed guest: state in colour, icon and word; a progress bar and its steps while it is
 * deployed; the reason when it failed; a USB binding it still needs; a link to its app; and, for
 * operators, its actions (start/stop/reboot, retry, delete with the name typed to confirm).
 */
export function InstanceCard({
  instance,
  settings,
  power = null,
  appHealth = null,
  canOperate,
  variant,
  progressHref,
  onPowerChanged,
  projectTypes,
  lastBackup,
}: {
  instance: LiveInstance;
  settings: SiteSettings | undefined;
  /** Whether the guest runs (from the host's status), when known. */
  power?: PowerState;
  /** Whether the running guest's app answers, and since when (from the host's poll), when known. */
  appHealth?: AppHealth | null;
  canOperate: boolean;
  /** progress: the live deploy view (steps always shown); manage: the project page (power actions). */
  variant: 'progress' | 'manage';
  /** Where to watch this instance's deploy live (the project page links there while it deploys). */
  progressHref?: string | undefined;
  /** A power action succeeded: the guest now runs or not (until the host's status catches up). */
  onPowerChanged?: (instanceId: number, power: Exclude<PowerState, null>) => void;
  /** The types of the instances alongside (what Home Assistant's wiring step connects). */
  projectTypes?: readonly string[];
  /** Its last backup, when the project has backups set up (absent: no backups, the card says nothing of them). */
  lastBackup?: LastBackup | undefined;
}) {
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [confirmUpgrade, setConfirmUpgrade] = useState(false);
  const action = useInstanceAction({
    onSuccess: (_, done) => {
      if (done === 'start' || done === 'reboot') onPowerChanged?.(instance.id, 'running');
      if (done === 'stop' || done === 'shutdown') onPowerChanged?.(instance.id, 'stopped');
    },
  });
  const pendingAction = action.isPending ? action.variables?.action : undefined;
  const failedAction = action.isError ? action.variables?.action : undefined;

  const deploying = isDeploying(instance.state);
  const upgrading = isUpgrading(instance.state);
  const offer = instance.upgrade ?? null;
  const failed = instance.state === 'failed';
  const deleting = instance.state === 'deleting' || instance.state === 'deleted';
  const binding = needsUsbBinding(settings, instance);
  const device = usbDeviceFor(settings, instance.type) ?? 'the USB stick';
  const status = shownStatus(instance, power, binding);
  const percent = percentOf(instance);
  const app = appOf(instance.type);
  const link = appLink(instance.type, instance.ip, instance.appUrl);
  const settled = ['active', 'waiting', 'personalising', 'needs-binding'].includes(instance.state);
  // The live view lists every step; the project page keeps cards short (the bar and the step's message).
  const showSteps = variant === 'progress' && !deleting;
  const titleId = `instance-${instance.id}-title`;
  const guest = instance.vmid != null ? `${guestKindShort(instance.kind)} ${instance.vmid}` : guestKindShort(instance.kind);
  const barTone: StatusTone = failed ? 'danger' : instance.state === 'active' ? (binding ? 'warning' : 'success') : deleting ? 'neutral' : 'info';
  const busy = action.isPending;
  // Whether the app answers counts only for a running, active guest.
  const shownHealth = power === 'running' && instance.state === 'active' ? appHealth : null;
  // A running guest whose app does not answer is red at a glance (its badge keeps "Active"); a started guest that
  // still needs its USB binding is flagged amber (the badge keeps its state).
  const cardTone: StatusTone =
    shownHealth?.state === 'down' ? 'danger' : binding && settled && power !== 'stopped' && !failed ? 'warning' : status.tone;

  const run = (what: InstanceAction) => action.mutate({ id: instance.id, action: what });

  return (
    <article
      className={styles.card}
      aria-labelledby={titleId}
      data-tone={cardTone}
      data-state={instance.state}
      data-instance={instance.id}
    >
      <header className={styles.cardHead}>
        <div className={styles.cardTitleBlock}>
          <h3 id={titleId} className={styles.cardTitle}>
            {instance.hostname}
          </h3>
          <p className={styles.cardMeta}>
            <span>{componentName(instance.type)}</span>
            <span>{guest}</span>
            {instance.cloneMode === 'full' ? <span>full copy</span> : null}
          </p>
        </div>
        <BadgeGroup>
          <InstanceStateBadge state={instance.state} tone={status.tone} label={status.label} />
          {shownHealth ? <AppHealthBadge app={shownHealth} /> : null}
        </BadgeGroup>
      </header>

      {deploying || upgrading || failed || variant === 'progress' ? (
        <div className={styles.progressBlock}>
          <div className={styles.progressHead}>
            <span className={styles.progressMessage}>
              {failed ? `Failed at: ${stepLabel(failedAt(instance))}` : instance.message?.trim() || stepLabel(instance.state)}
            </span>
            <span className={styles.percent}>{percent}%</span>
          </div>
          <ProgressBar
            percent={percent}
            tone={barTone}
            label={`Progress of ${instance.hostname}`}
            valueText={`${percent}%, ${status.label}`}
          />
        </div>
      ) : null}

      {showSteps ? <StepList steps={stepsOf(instance, projectTypes)} hostname={instance.hostname} /> : null}

      {variant === 'manage' && !deploying && !failed && !deleting ? (
        <FactsList
          facts={[
            { term: 'IP', value: instance.ip ?? <MissingFact>not known yet</MissingFact>, mono: true },
            { term: 'Release', value: instance.release ?? '—' },
            instance.node ? { term: 'Node', value: instance.node } : null,
            instance.mac ? { term: 'MAC', value: instance.mac, mono: true, wide: true } : null,
            lastBackup ? { term: 'Last backup', value: <LastBackupValue backup={lastBackup} />, wide: true, testId: 'last-backup' } : null,
          ]}
        />
      ) : null}

      {offer && !upgrading && !deleting ? (
        <p className={styles.bindingNote} role="note" data-upgrade={offer.possible ? 'possible' : 'blocked'}>
          <RefreshIcon width={18} height={18} />
          <span>
            <strong>
              Upgrade available ({offer.from} → {offer.to})
            </strong>
            {offer.possible ? null : <> — {offer.reason}</>}
          </span>
          {canOperate && offer.possible && variant === 'manage' ? (
            <Button size="small" variant="primary" onClick={() => setConfirmUpgrade(true)} aria-label={`Upgrade ${instance.hostname}`}>
              Upgrade
            </Button>
          ) : null}
        </p>
      ) : null}
      {instance.state === 'active' && instance.error && instance.message?.includes('rolled back') ? (
        <FailureBox instance={instance} />
      ) : null}

      {binding && !failed && !deleting ? <UsbBindingNote instance={instance} device={device} /> : null}
      {failed ? <FailureBox instance={instance} /> : null}
      {deleting ? (
        <p className={styles.muted}>
          {instance.state === 'deleted' ? (
            'Deleted: the guest and its disks are gone.'
          ) : (
            <>
              <Spinner /> Stopping and destroying the guest and its disks…
            </>
          )}
        </p>
      ) : null}

      {failedAction ? (
        <div className={styles.actionError} role="alert">
          <p>
            <strong>{FAILED_WORDS[failedAction]} {instance.hostname}:</strong> {problemMessage(action.error)}
          </p>
          {action.error instanceof ApiError ? (
            <details>
              <summary>Details</summary>
              <pre>{action.error.technicalSummary}</pre>
            </details>
          ) : null}
          {failedAction === 'shutdown' && canOperate ? (
            <Button size="small" variant="danger" onClick={() => run('stop')} disabled={busy}>
              <PowerIcon />
              Force stop (like pulling the plug)
            </Button>
          ) : null}
        </div>
      ) : null}

      {(settled || failed || (deploying && progressHref)) && !deleting ? (
        <footer className={styles.cardActions}>
          {settled && app ? (
            link ? (
              <a className={styles.openLink} href={link.url} target="_blank" rel="noreferrer noopener">
                <ExternalLinkIcon />
                Open {link.name}
                <VisuallyHidden> at {link.url} (new tab)</VisuallyHidden>
              </a>
            ) : (
              <span className={styles.muted}>Open {app.name}: address not known yet</span>
            )
          ) : null}
          {deploying && progressHref ? (
            <Link to={progressHref} className={styles.openLink}>
              Watch live progress
            </Link>
          ) : null}
          {canOperate && (failed || (settled && variant === 'manage')) ? (
            <div className={styles.buttons} role="group" aria-label={`Actions for ${instance.hostname}`}>
              {failed ? (
                <Button size="small" variant="primary" onClick={() => run('retry')} disabled={busy}>
                  {pendingAction === 'retry' ? <Spinner /> : <RefreshIcon />}
                  {pendingAction === 'retry' ? PENDING_WORDS.retry : 'Retry'}
                </Button>
              ) : null}
              {settled && power !== 'running' ? (
                <Button size="small" onClick={() => run('start')} disabled={busy}>
                  {pendingAction === 'start' ? <Spinner /> : <PlayIcon />}
                  {pendingAction === 'start' ? PENDING_WORDS.start : 'Start'}
                </Button>
              ) : null}
              {settled && power !== 'stopped' ? (
                <>
                  <Button size="small" onClick={() => run('shutdown')} disabled={busy} title="Shuts the guest down cleanly">
                    {pendingAction === 'shutdown' || pendingAction === 'stop' ? <Spinner /> : <PowerIcon />}
                    {pendingAction === 'shutdown' || pendingAction === 'stop' ? PENDING_WORDS.shutdown : 'Stop'}
                  </Button>
                  <Button size="small" onClick={() => run('reboot')} disabled={busy}>
                    {pendingAction === 'reboot' ? <Spinner /> : <RotateIcon />}
                    {pendingAction === 'reboot' ? PENDING_WORDS.reboot : 'Reboot'}
                  </Button>
                </>
              ) : null}
              <Button size="small" className={styles.deleteButton} onClick={() => setConfirmDelete(true)} disabled={busy}>
                <TrashIcon />
                {failed ? 'Remove' : 'Delete'}
              </Button>
            </div>
          ) : null}
        </footer>
      ) : null}

      {confirmDelete ? <DeleteInstanceDialog instance={instance} onClose={() => setConfirmDelete(false)} /> : null}
      {confirmUpgrade ? (
        <UpgradeDialog projectId={instance.projectId} instances={[instance]} single={instance} onClose={() => setConfirmUpgrade(false)} />
      ) : null}
    </article>
  );
}
