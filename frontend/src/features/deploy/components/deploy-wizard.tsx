import { useId, useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { ApiError, problemMessage, type DashboardSnapshot, type Project, type TemplateState } from '@/shared/api';
import { formatDisk, formatMemory, plural } from '@/shared/lib/format';
import { componentName, guestKindShort, usbDeviceFor } from '@/shared/lib/instances';
import { Button, buttonClass } from '@/shared/ui/button';
import { DataTable, type Column } from '@/shared/ui/data-table';
import { EmptyState } from '@/shared/ui/empty-state';
import { QueryError } from '@/shared/ui/query-error';
import { AlertTriangleIcon, ArrowRightIcon, CheckCircleIcon, PackageIcon, UsbIcon } from '@/shared/ui/icons';
import { Meter } from '@/shared/ui/meter';
import { Skeleton } from '@/shared/ui/skeleton';
import { Spinner } from '@/shared/ui/spinner';
import { useDeployStack } from '../api/deploy-stack';
import { useHost } from '../api/get-host';
import { useRelease } from '../api/get-release';
import {
  capacityFor,
  formatRamMiB,
  targetNode,
  targetStorage,
  totalsOf,
  type Capacity,
  type Totals,
} from '../lib/capacity';
import styles from './deploy.module.css';
import { FactsList } from '@/shared/ui/facts-list';

type Step = 'choose' | 'review';

const STEPS: { key: Step | 'deploy'; label: string }[] = [
  { key: 'choose', label: 'Choose components' },
  { key: 'review', label: 'Review' },
  { key: 'deploy', label: 'Deploy' },
];

const COMPONENT_COLUMNS: readonly Column[] = [
  { header: 'Component' },
  { header: 'CPU', numeric: true },
  { header: 'RAM', numeric: true },
  { header: 'Disk', numeric: true },
];

function Stepper({ current }: { current: Step }) {
  const index = STEPS.findIndex((s) => s.key === current);
  return (
    <ol className={styles.stepper} aria-label="Deploy steps">
      {STEPS.map((step, i) => (
        <li
          key={step.key}
          className={styles.stepperItem}
          data-status={i < index ? 'done' : i === index ? 'current' : 'upcoming'}
          aria-current={i === index ? 'step' : undefined}
        >
          <span className={styles.stepperNumber} aria-hidden="true">
            {i < index ? <CheckCircleIcon /> : i + 1}
          </span>
          {step.label}
        </li>
      ))}
    </ol>
  );
}

/** Hostnames the deploy will give: slug-type, then slug-type-2 … when taken (as the backend does). */
function plannedHostnames(project: Project, types: readonly string[]): Map<string, string> {
  const taken = new Set(project.instances.filter((i) => i.state !== 'deleted').map((i) => i.hostname));
  const names = new Map<string, string>();
  for (const type of types) {
    const stem = `${project.slug}-${type}`;
    let name = stem;
    for (let n = 2; taken.has(name); n += 1) name = `${stem}-${n}`;
    taken.add(name);
    names.set(type, name);
  }
  return names;
}

/**
 * Why a component cannot be chosen, or null. A template the active release has not built here cannot be deployed;
 * its build says why ("build 12 failed: …"), and the Releases page rebuilds it alone.
 */
function unavailable(template: TemplateState, project: Project): string | null {
  if (template.state === 'building') return `Being built now (${template.reason ?? 'a build is running'})`;
  if (template.state !== 'built') return template.reason ? `Not available: ${template.reason}` : 'Not built on this host yet';
  if (template.name === 'ctrlable-pro' && project.instances.some((i) => i.type === 'ctrlable-pro' && i.state !== 'deleted')) {
    return 'Already deployed: a site has one Home Assistant';
  }
  return null;
}

function Warning({ children, tone = 'warning' }: { children: ReactNode; tone?: 'warning' | 'info' }) {
  return (
    <div className={tone === 'warning' ? styles.warning : styles.info} role="note">
      {tone === 'warning' ? <AlertTriangleIcon width={18} height={18} /> : <UsbIcon width={18} height={18} />}
      <div>{children}</div>
    </div>
  );
}

/** What the choice needs against what the host has free, with a warning when it does not fit. */
function CapacityPanel({
  totals,
  capacity,
  host,
  project,
}: {
  totals: Totals;
  capacity: Capacity;
  host: DashboardSnapshot;
  project: Project;
}) {
  const node = targetNode(host, project.settings);
  const storage = targetStorage(node, project.settings);
  const ramAfter = node ? node.memUsed + totals.ramBytes : null;
  const diskAfter = storage ? storage.used + totals.diskBytes : null;
  const fullCopies = storage ? !storage.linkedClones : false;
  return (
    <section className={styles.capacity} aria-label="Capacity">
      <div className={styles.capacityMeters}>
        <Meter
          label={`Memory on ${node?.node ?? 'the node'}`}
          fraction={node && ramAfter !== null && node.memTotal > 0 ? Math.min(1, ramAfter / node.memTotal) : null}
          thresholds={{ warning: 0.9, danger: 1 }}
          value={`needs ${formatRamMiB(totals.ramMiB)}`}
          detail={
            capacity.ramFree !== null && node
              ? `${formatMemory(capacity.ramFree)} free of ${formatMemory(node.memTotal)}; the bar shows use after the deploy`
              : 'Free memory not known'
          }
        />
        <Meter
          label={`Disk on ${storage?.storage ?? 'the storage'}`}
          fraction={storage && diskAfter !== null && storage.total > 0 ? Math.min(1, diskAfter / storage.total) : null}
          thresholds={{ warning: 0.9, danger: 1 }}
          value={`needs ${totals.diskGb} GB`}
          detail={
            capacity.diskFree !== null && storage
              ? `${formatDisk(capacity.diskFree)} free of ${formatDisk(storage.total)}; the bar shows use after the deploy`
              : 'Free disk not known'
          }
        />
        <div className={styles.cpuFact}>
          <span className={styles.cpuLabel}>CPU</span>
          <span className={styles.cpuValue}>{plural(totals.cpu, 'vCPU')}</span>
          <span className={styles.cpuDetail}>
            shared on {node ? plural(node.cpus, 'host CPU') : 'the host'}
            {node && totals.cpu > node.cpus ? ' (more than the host has: fine while they are not all busy)' : ''}
          </span>
        </div>
      </div>
      {capacity.ramOver ? (
        <Warning>
          <strong>Not enough free memory.</strong> The selected components need {formatRamMiB(totals.ramMiB)}; {node?.node}{' '}
          has {formatMemory(capacity.ramFree)} free. Deselect a component, or stop guests on the host first — otherwise
          some guests may not start.
        </Warning>
      ) : null}
      {capacity.diskOver ? (
        <Warning>
          <strong>Not enough free disk.</strong> The selected components may grow to {totals.diskGb} GB; {storage?.storage} has{' '}
          {formatDisk(capacity.diskFree)} free. Deselect a component or free space on the storage.
        </Warning>
      ) : null}
      {fullCopies ? (
        <Warning>
          <strong>Full copies, not linked clones.</strong> Storage {storage?.storage} ({storage?.type}) cannot do linked
          clones: each guest is a full copy of its template. That takes minutes instead of seconds and uses the whole disk
          size at once.
        </Warning>
      ) : null}
    </section>
  );
}

/**
 * The deploy wizard: 1 choose the components of the active release (each with its CPU, RAM and disk,
 * totals against the node's free memory and disk), 2 review, 3 deploy — then the live progress view.
 */
export function DeployWizard({
  project,
  siteSummary,
  links,
  onDeployed,
}: {
  project: Project;
  /** The project's site settings in words, shown on the review step. */
  siteSummary?: ReactNode;
  links: { project: string; editProject: string; releases: string };
  onDeployed: (deployId: number) => void;
}) {
  const host = useHost();
  const release = useRelease({ name: host.data?.activeRelease });
  const [step, setStep] = useState<Step>('choose');
  const [chosen, setChosen] = useState<Set<string> | null>(null);
  const deploy = useDeployStack({ onSuccess: (d) => onDeployed(d.id) });
  const headingId = useId();

  if (host.isPending || (host.data?.activeRelease && release.isPending)) {
    return (
      <div className={styles.loading} aria-busy="true">
        <p role="status">Loading the components of the active release…</p>
        <Skeleton />
        <Skeleton />
        <Skeleton />
      </div>
    );
  }
  if (host.isError || release.isError) {
    return (
      <QueryError
        title={host.isError ? 'Could not read the host' : 'Could not read the release'}
        query={host.isError ? host : release}
      >
        <p>
          {host.isError
            ? 'The deploy needs the host’s free memory and disk and its active release. Check that Proxmox is reachable (see the dashboard), then try again.'
            : 'The deploy needs the active release’s components. Try again.'}
        </p>
      </QueryError>
    );
  }
  if (!host.data.activeRelease || !release.data) {
    return (
      <EmptyState
        icon={<PackageIcon width={24} height={24} />}
        title="No release built yet"
        action={
          <Link to={links.releases} className={buttonClass('primary')}>
            Open the Releases page
          </Link>
        }
      >
        <p>A deploy clones the templates of a built release. Build one first.</p>
      </EmptyState>
    );
  }

  const templates = release.data.templates;
  const missing = templates.filter((t) => t.state !== 'built');
  const selectable = templates.filter((t) => unavailable(t, project) === null);
  // Preselected: every component that can be deployed (the API's one-click default).
  const selected = chosen ?? new Set(selectable.map((t) => t.name));
  const picked = templates.filter((t) => selected.has(t.name) && unavailable(t, project) === null);
  const totals = totalsOf(picked);
  const node = targetNode(host.data, project.settings);
  const storage = targetStorage(node, project.settings);
  const capacity = capacityFor(totals, node, storage);
  const hostnames = plannedHostnames(project, picked.map((t) => t.name));

  const toggle = (name: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(name);
    else next.delete(name);
    setChosen(next);
  };

  return (
    <div className={styles.wizard}>
      <Stepper current={step} />
      {host.data.simulated ? (
        <p className={styles.simulatedNote} role="note">
          Simulated Proxmox host — this deploy touches no real hardware.
        </p>
      ) : null}

      {step === 'choose' ? (
        <section className={styles.panel} aria-labelledby={headingId}>
          <div className={styles.panelHead}>
            <h2 id={headingId} className={styles.panelTitle}>
              Choose components
            </h2>
            <p className={styles.muted}>
              Release {release.data.name}: each component becomes one guest of {project.name}.
            </p>
          </div>
          {missing.length > 0 ? (
            <Warning>
              <strong>
                Release {release.data.name} is partly built: {missing.map((t) => componentName(t.name)).join(', ')}{' '}
                {missing.length === 1 ? 'is' : 'are'} not available on this host.
              </strong>{' '}
              The other components deploy as usual. Rebuild what is missing on the <Link to={links.releases}>Releases page</Link>, then
              add it to this project.
            </Warning>
          ) : null}
          <DataTable
            plain
            className={styles.componentTable}
            caption={`Components of release ${release.data.name}`}
            columns={COMPONENT_COLUMNS}
            rows={templates}
            rowKey={(t) => t.name}
            renderRow={(t) => {
              const reason = unavailable(t, project);
              const usb = usbDeviceFor(project.settings, t.name);
              const id = `component-${t.name}`;
              return (
                <tr data-disabled={reason ? '' : undefined}>
                  <td>
                    <div className={styles.componentCell}>
                      <input
                        id={id}
                        type="checkbox"
                        checked={reason === null && selected.has(t.name)}
                        disabled={reason !== null}
                        onChange={(e) => toggle(t.name, e.target.checked)}
                        aria-describedby={reason || usb ? `${id}-note` : undefined}
                      />
                      <label htmlFor={id}>
                        <span className={styles.componentName}>{componentName(t.name)}</span>
                        <span className={styles.componentMeta}>
                          {t.name} · {t.kind === 'vm' ? 'VM' : 'Container'}
                          {t.appVersion ? ` · ${t.appVersion}` : ''}
                        </span>
                        {reason ? (
                          <span id={`${id}-note`} className={styles.componentNote}>
                            {reason}
                          </span>
                        ) : usb ? (
                          <span id={`${id}-note`} className={styles.componentUsb}>
                            <UsbIcon /> USB coordinator: needs a manual binding after the deploy
                          </span>
                        ) : null}
                      </label>
                    </div>
                  </td>
                  <td className={styles.num}>{t.resources.cpu}</td>
                  <td className={styles.num}>{formatRamMiB(t.resources.ramMiB)}</td>
                  <td className={styles.num}>{t.resources.diskGb} GB</td>
                </tr>
              );
            }}
            footer={
              <tr>
                <th scope="row">Selected: {plural(picked.length, 'component')}</th>
                <td className={styles.num} data-testid="total-cpu">
                  {totals.cpu}
                </td>
                <td className={styles.num} data-testid="total-ram">
                  {formatRamMiB(totals.ramMiB)}
                </td>
                <td className={styles.num} data-testid="total-disk">
                  {totals.diskGb} GB
                </td>
              </tr>
            }
          />
          <CapacityPanel totals={totals} capacity={capacity} host={host.data} project={project} />
          <div className={styles.wizardActions}>
            <Link to={links.project} className={buttonClass('secondary')}>
              Cancel
            </Link>
            <Button variant="primary" disabled={picked.length === 0} onClick={() => setStep('review')}>
              Next: review
              <ArrowRightIcon />
            </Button>
            {picked.length === 0 ? <span className={styles.muted}>Choose at least one component.</span> : null}
          </div>
        </section>
      ) : (
        <section className={styles.panel} aria-labelledby={headingId}>
          <div className={styles.panelHead}>
            <h2 id={headingId} className={styles.panelTitle}>
              Review
            </h2>
            <p className={styles.muted}>
              {plural(picked.length, 'guest')} will be created for {project.name} from release {release.data.name}.
            </p>
          </div>
          <FactsList
            layout="auto"
            facts={[
              {
                term: 'Project',
                value: (
                  <>
                    {project.name} (<code>{project.slug}</code>)
                  </>
                ),
              },
              { term: 'Node', value: node?.node ?? 'default' },
              {
                term: 'Storage',
                value: storage
                  ? `${storage.storage} (${storage.linkedClones ? 'linked clones: seconds' : 'full copies: minutes'})`
                  : 'default',
              },
              {
                term: 'Needs',
                value: `${plural(totals.cpu, 'vCPU')} · ${formatRamMiB(totals.ramMiB)} RAM · ${totals.diskGb} GB disk`,
              },
            ]}
          />
          <ul className={styles.reviewList} aria-label="Guests to create">
            {picked.map((t) => {
              const usb = usbDeviceFor(project.settings, t.name);
              return (
                <li key={t.name}>
                  <span className={styles.reviewHost}>{hostnames.get(t.name)}</span>
                  <span className={styles.componentMeta}>
                    {componentName(t.name)} · {guestKindShort(t.kind)} · {t.resources.cpu} CPU ·{' '}
                    {formatRamMiB(t.resources.ramMiB)} · {t.resources.diskGb} GB
                  </span>
                  {usb ? (
                    <span className={styles.componentUsb}>
                      <UsbIcon /> Needs a USB binding of <code>{usb}</code> on the Proxmox host afterwards
                    </span>
                  ) : null}
                </li>
              );
            })}
          </ul>
          {capacity.ramOver || capacity.diskOver || (storage && !storage.linkedClones) ? (
            <CapacityPanel totals={totals} capacity={capacity} host={host.data} project={project} />
          ) : null}
          {siteSummary ? (
            <details className={styles.siteDetails}>
              <summary>Site settings the guests are wired with</summary>
              {siteSummary}
              <p>
                <Link to={links.editProject}>Change the site settings</Link> before deploying if something is wrong.
              </p>
            </details>
          ) : null}
          {deploy.isError ? (
            <div className={styles.actionError} role="alert">
              <p>
                <strong>The deploy did not start:</strong> {problemMessage(deploy.error)}
              </p>
              {deploy.error instanceof ApiError ? (
                <details>
                  <summary>Details</summary>
                  <pre>{deploy.error.technicalSummary}</pre>
                </details>
              ) : null}
            </div>
          ) : null}
          <div className={styles.wizardActions}>
            <Button onClick={() => setStep('choose')} disabled={deploy.isPending}>
              Back
            </Button>
            <Button
              variant="primary"
              disabled={deploy.isPending}
              onClick={() => deploy.mutate({ projectId: project.id, types: picked.map((t) => t.name) })}
            >
              {deploy.isPending ? <Spinner /> : null}
              {deploy.isPending ? 'Starting the deploy…' : `Deploy ${plural(picked.length, 'component')}`}
            </Button>
          </div>
        </section>
      )}
    </div>
  );
}
