import { useState } from 'react';
import type { GuestCard as Guest } from '@/shared/api';
import { formatDuration, formatMemoryUsage, formatPercent, fractionOf } from '@/shared/lib/format';
import { HelpCircleIcon } from '@/shared/ui/icons';
import { AppHealthBadge } from '@/shared/ui/app-health-badge';
import { Meter } from '@/shared/ui/meter';
import { Spinner } from '@/shared/ui/spinner';
import { BadgeGroup, StatusBadge } from '@/shared/ui/status-badge';
import { TONE_ICONS } from '@/shared/ui/tone-icon';
import { VisuallyHidden } from '@/shared/ui/visually-hidden';
import { guestAnchorId } from '../lib/alerts';
import { guestStatus, isAppDown, type GuestStatus } from '../lib/guest-status';
import { GuestHistory } from './metric-history';
import styles from './dashboard.module.css';
import { FactsList } from '@/shared/ui/facts-list';

export function GuestStatusBadge({ status }: { status: GuestStatus }) {
  const Icon = status.label === 'Status unknown' ? HelpCircleIcon : status.busy ? Spinner : TONE_ICONS[status.tone];
  return (
    <StatusBadge tone={status.tone} icon={<Icon />}>
      {status.label}
    </StatusBadge>
  );
}

export function kindLabel(kind: string): string {
  if (kind === 'lxc') return 'Container';
  if (kind === 'qemu' || kind === 'vm') return 'VM';
  return kind;
}

function NotKnown({ what }: { what: string }) {
  return (
    <>
      <span aria-hidden="true">—</span>
      <VisuallyHidden>{what}</VisuallyHidden>
    </>
  );
}

/** Opens on demand and only then asks for the guest's history. */
function HistoryDisclosure({ guest }: { guest: Guest }) {
  const [open, setOpen] = useState(false);
  return (
    <details className={styles.disclosure} onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>
        History<VisuallyHidden> of {guest.name}</VisuallyHidden>
      </summary>
      {open ? <GuestHistory vmid={guest.vmid} name={guest.name} /> : null}
    </details>
  );
}

/** Why an instance failed, one click away. */
function FailureDetails({ guest }: { guest: Guest }) {
  return (
    <details className={`${styles.disclosure} ${styles.failure}`}>
      <summary>
        Details<VisuallyHidden> of why {guest.name} failed</VisuallyHidden>
      </summary>
      <p className={styles.failureReason}>{guest.error?.trim() || 'No reason was recorded for this failure.'}</p>
    </details>
  );
}

/** One guest (LXC container or VM): status, whether its app answers, identity, release, IP, node, CPU/RAM and uptime. */
export function GuestCardView({ guest, headingLevel = 4 }: { guest: Guest; headingLevel?: 3 | 4 }) {
  const status = guestStatus(guest);
  const running = guest.status === 'running';
  const memory = fractionOf(guest.memUsed, guest.memTotal);
  const Heading = headingLevel === 3 ? 'h3' : 'h4';
  const failed = status.tone === 'danger';
  return (
    <article
      id={guestAnchorId(guest.vmid)}
      className={`${styles.card} ${styles.guestCard}`}
      data-tone={isAppDown(guest) ? 'danger' : status.tone}
      aria-labelledby={`${guestAnchorId(guest.vmid)}-title`}
      tabIndex={-1}
    >
      <header className={styles.guestHead}>
        <Heading id={`${guestAnchorId(guest.vmid)}-title`} className={styles.guestName}>
          {guest.name}
        </Heading>
        <BadgeGroup>
          <GuestStatusBadge status={status} />
          {running && guest.app ? <AppHealthBadge app={guest.app} /> : null}
        </BadgeGroup>
      </header>
      <p className={styles.guestMeta}>
        <span>VMID {guest.vmid}</span>
        <span>{kindLabel(guest.kind)}</span>
        {guest.type && guest.type !== guest.name ? <span>{guest.type}</span> : null}
      </p>
      <FactsList
        facts={[
          { term: 'Release', value: guest.release ?? <NotKnown what="none" /> },
          { term: 'IP', value: guest.ip ?? <NotKnown what="not known" />, mono: true },
          { term: 'Node', value: guest.node || <NotKnown what="not known" /> },
          { term: 'Uptime', value: running ? formatDuration(guest.uptimeSeconds) : <NotKnown what="not running" /> },
        ]}
      />
      {running ? (
        <div className={styles.guestMeters}>
          <Meter
            compact
            label="CPU"
            accessibleLabel={`CPU of ${guest.name}`}
            fraction={guest.cpuFraction}
            value={formatPercent(guest.cpuFraction)}
          />
          <Meter
            compact
            label="RAM"
            accessibleLabel={`RAM of ${guest.name}`}
            fraction={memory}
            value={formatMemoryUsage(guest.memUsed, guest.memTotal)}
          />
        </div>
      ) : null}
      {/* The actions area: lifecycle buttons (start, stop, open the app) arrive with later issues. */}
      <div className={styles.guestActions} data-slot="actions">
        {failed ? <FailureDetails guest={guest} /> : null}
        <HistoryDisclosure guest={guest} />
      </div>
    </article>
  );
}
