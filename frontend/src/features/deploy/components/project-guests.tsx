import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { ApiError, problemMessage, queryKeys, type AppHealth, type Deploy, type GuestCard, type Project } from '@/shared/api';
import { componentName, isDeploying } from '@/shared/lib/instances';
import { Button, buttonClass } from '@/shared/ui/button';
import { EmptyState } from '@/shared/ui/empty-state';
import { SelectField } from '@/shared/ui/field';
import { PackageIcon, PlusIcon, ArrowRightIcon } from '@/shared/ui/icons';
import { Spinner } from '@/shared/ui/spinner';
import { useAddInstance } from '../api/deploy-stack';
import { useProject } from '../api/get-project';
import { useHost } from '../api/get-host';
import { useRelease } from '../api/get-release';
import { DEPLOY_POLL_MS } from '../api/get-deploy';
import { useInstanceEvents } from '../api/use-instance-events';
import { mergeInstances } from '../lib/live-instances';
import { LiveIndicator } from './deploy-progress';
import { InstanceCard, type LastBackup, type PowerState } from './instance-card';
import { UpgradeDialog } from './upgrade-dialog';
import styles from './deploy.module.css';

/** Add one more instance of a component of the active release to the project. */
function AddInstanceForm({
  project,
  onAdded,
}: {
  project: Project;
  onAdded: (deploy: Deploy) => void;
}) {
  const host = useHost();
  const release = useRelease({ name: host.data?.activeRelease });
  const hasHomeAssistant = project.instances.some((i) => i.type === 'ctrlable-pro' && i.state !== 'deleted');
  const templates = (release.data?.templates ?? []).filter((t) => t.state === 'built');
  const choices = templates.filter((t) => !(t.name === 'ctrlable-pro' && hasHomeAssistant));
  const [type, setType] = useState('');
  const selected = choices.some((t) => t.name === type) ? type : (choices[0]?.name ?? '');
  const add = useAddInstance({ onSuccess: onAdded });

  if (host.isPending || (host.data?.activeRelease && release.isPending)) {
    return <p className={styles.muted}>Loading the components of the active release…</p>;
  }
  if (!host.data?.activeRelease || choices.length === 0) {
    return <p className={styles.muted}>No components to add: there is no built release on this host.</p>;
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (selected) add.mutate({ projectId: project.id, type: selected });
  }

  return (
    <form className={styles.addForm} onSubmit={submit} aria-label="Add an instance">
      <SelectField label="Add an instance" value={selected} onChange={(e) => setType(e.target.value)}>
        {choices.map((t) => (
          <option key={t.name} value={t.name}>
            {componentName(t.name)} ({t.name})
          </option>
        ))}
      </SelectField>
      <Button type="submit" disabled={add.isPending}>
        {add.isPending ? <Spinner /> : <PlusIcon />}
        {add.isPending ? 'Adding…' : 'Add instance'}
      </Button>
      {add.isError ? (
        <div className={styles.actionError} role="alert">
          <p>
            <strong>Not added:</strong> {problemMessage(add.error)}
          </p>
          {add.error instanceof ApiError ? (
            <details>
              <summary>Details</summary>
              <pre>{add.error.technicalSummary}</pre>
            </details>
          ) : null}
        </div>
      ) : null}
    </form>
  );
}

/** How long after a power action the host's status may still be from before it. */
const POWER_SETTLE_MS = 4_000;

/** The host's word on each of the project's guests (whether it runs, whether its app answers), by instance id. */
function hostGuestsByInstance(guests: readonly GuestCard[] | undefined): Map<number, GuestCard> {
  const map = new Map<number, GuestCard>();
  for (const guest of guests ?? []) {
    if (guest.instanceId != null) map.set(guest.instanceId, guest);
  }
  return map;
}

function powerOfGuest(guest: GuestCard | undefined): PowerState {
  return guest?.status === 'running' ? 'running' : guest?.status === 'stopped' ? 'stopped' : null;
}

/**
 * A project's guests, live (the project's event stream, or asking every 2 s when it fails): one
 * card each with its actions, a way to add one more instance, and the way to the live progress of
 * a deploy under way.
 */
export function ProjectGuests({
  project: initial,
  canOperate,
  links,
  lastBackups,
}: {
  project: Project;
  canOperate: boolean;
  links: { deploy: (id: number) => string; deployWizard: string };
  /** Each instance's last backup, when the project has backups set up (the backups feature's data, by instance id). */
  lastBackups?: ReadonlyMap<number, LastBackup> | undefined;
}) {
  const queryClient = useQueryClient();
  const { progress, mode } = useInstanceEvents(`/api/projects/${initial.id}/events`, () => {
    void queryClient.invalidateQueries({ queryKey: queryKeys.project(initial.id) });
    // A guest was created, started or removed: ask the host whether each one runs.
    void queryClient.invalidateQueries({ queryKey: queryKeys.dashboard });
  });
  const query = useProject({
    id: initial.id,
    queryConfig: { initialData: initial, refetchInterval: mode === 'polling' ? DEPLOY_POLL_MS : false },
  });
  const project = query.data ?? initial;
  const host = useHost();
  // What a power action just did, until the host's next status is newer than it.
  const [powerOverride, setPowerOverride] = useState<Map<number, { power: Exclude<PowerState, null>; at: number }>>(new Map());
  const [lastAdded, setLastAdded] = useState<number | null>(null);
  const [confirmUpgrade, setConfirmUpgrade] = useState(false);

  const instances = mergeInstances(project.instances, progress).filter((i) => i.state !== 'deleted');
  const hostGuests = hostGuestsByInstance(host.data?.projects.find((p) => p.projectId === project.id)?.guests);
  const appOf = (id: number): AppHealth | null => hostGuests.get(id)?.app ?? null;
  const powerOf = (id: number): PowerState => {
    const override = powerOverride.get(id);
    // The backend serves one Proxmox poll for 3 s: only an answer received well after the action counts.
    if (override && host.dataUpdatedAt <= override.at + POWER_SETTLE_MS) return override.power;
    return powerOfGuest(hostGuests.get(id));
  };

  const deploying = instances.filter((i) => isDeploying(i.state) && i.state !== 'waiting' && i.state !== 'personalising');
  const runningDeploy = deploying.reduce<number | null>((latest, i) => (i.deployId != null && (latest === null || i.deployId > latest) ? i.deployId : latest), null);
  const offered = instances.filter((i) => i.upgrade != null);
  const upgradable = offered.filter((i) => i.upgrade?.possible);
  const latestDeploy = instances.reduce<number | null>((latest, i) => (i.deployId != null && (latest === null || i.deployId > latest) ? i.deployId : latest), null);

  return (
    <div className={styles.guests}>
      <div className={styles.guestsBar}>
        <LiveIndicator mode={mode} />
        {runningDeploy !== null ? (
          <Link to={links.deploy(runningDeploy)} className={buttonClass('primary', 'small')}>
            <Spinner /> Deploy in progress — watch live progress
          </Link>
        ) : latestDeploy !== null ? (
          <Link to={links.deploy(latestDeploy)} className={styles.openLink}>
            Live progress of the latest deploy
            <ArrowRightIcon />
          </Link>
        ) : null}
        {canOperate && upgradable.length > 0 ? (
          <Button variant="primary" size="small" onClick={() => setConfirmUpgrade(true)}>
            Upgrade all to {upgradable[0]?.upgrade?.to}
          </Button>
        ) : null}
      </div>
      {confirmUpgrade ? <UpgradeDialog projectId={project.id} instances={offered} onClose={() => setConfirmUpgrade(false)} /> : null}

      {instances.length === 0 ? (
        <EmptyState
          icon={<PackageIcon width={24} height={24} />}
          title="Nothing deployed yet"
          action={
            canOperate ? (
              <Link to={links.deployWizard} className={buttonClass('primary')}>
                Deploy the stack
              </Link>
            ) : null
          }
        >
          <p>
            {canOperate
              ? 'Choose the components for this site (Home Assistant, Z-Wave, Zigbee, …) and deploy them in one go.'
              : 'An operator or admin deploys the stack for this site.'}
          </p>
        </EmptyState>
      ) : (
        <div className={styles.grid}>
          {instances.map((instance) => (
            <InstanceCard
              key={instance.id}
              instance={instance}
              settings={project.settings}
              power={powerOf(instance.id)}
              appHealth={appOf(instance.id)}
              canOperate={canOperate}
              variant="manage"
              projectTypes={instances.map((i) => i.type)}
              lastBackup={lastBackups?.get(instance.id)}
              progressHref={instance.deployId != null ? links.deploy(instance.deployId) : undefined}
              onPowerChanged={(id, power) => {
                setPowerOverride((current) => new Map(current).set(id, { power, at: Date.now() }));
                void host.refetch();
              }}
            />
          ))}
        </div>
      )}

      {canOperate && instances.length > 0 ? (
        <div className={styles.addBlock}>
          <AddInstanceForm project={project} onAdded={(deploy) => setLastAdded(deploy.id)} />
          {lastAdded !== null ? (
            <p className={styles.muted} role="status">
              Added — its card above shows its progress. <Link to={links.deploy(lastAdded)}>Watch it live</Link>
            </p>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
