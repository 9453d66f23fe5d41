import { problemMessage } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { Dialog } from '@/shared/ui/dialog';
import { RefreshIcon } from '@/shared/ui/icons';
import { useUpgrade } from '../api/upgrade';
import type { LiveInstance } from '../lib/live-instances';

/**
 * Confirms an upgrade to the active release — of one instance, or of every instance of the project that can be — and
 * says what happens: a Proxmox snapshot first, the app's own update, a check that it answers; on a failure the guest is
 * rolled back to the snapshot. Instances that cannot be upgraded are listed with why.
 */
export function UpgradeDialog({
  projectId,
  instances,
  single,
  onClose,
}: {
  projectId: number;
  /** The instances with an upgrade on offer (for one instance: just it). */
  instances: readonly LiveInstance[];
  /** Upgrade this one instance (else the project). */
  single?: LiveInstance;
  onClose: () => void;
}) {
  const upgrade = useUpgrade({ projectId, onStarted: onClose });
  const possible = instances.filter((i) => i.upgrade?.possible);
  const blocked = instances.filter((i) => i.upgrade && !i.upgrade.possible);
  const to = (single ?? possible[0] ?? instances[0])?.upgrade?.to ?? '';
  const title = single ? `Upgrade ${single.hostname} to ${to}?` : `Upgrade all guests to ${to}?`;

  return (
    <Dialog
      title={title}
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            variant="primary"
            onClick={() => upgrade.mutate(single ? { instanceId: single.id } : {})}
            disabled={upgrade.isPending || possible.length === 0}
          >
            <RefreshIcon />
            {upgrade.isPending ? 'Starting…' : single ? 'Upgrade' : `Upgrade ${possible.length} guest${possible.length === 1 ? '' : 's'}`}
          </Button>
        </>
      }
    >
      <p>
        Each guest gets a Proxmox snapshot first, then its app is updated the way it is meant to be (Home Assistant through
        its Supervisor, the other apps by their own update routine), and checked. If anything fails, the guest is rolled back
        to its snapshot and keeps running its current release. Snapshots are removed after a few days.
      </p>
      {single ? null : (
        <ul aria-label="Guests to upgrade">
          {possible.map((i) => (
            <li key={i.id}>
              {i.hostname}: {i.upgrade?.from} → {i.upgrade?.to}
            </li>
          ))}
        </ul>
      )}
      {blocked.length > 0 && !single ? (
        <>
          <p>Not upgraded:</p>
          <ul aria-label="Guests not upgraded">
            {blocked.map((i) => (
              <li key={i.id}>
                {i.hostname}: {i.upgrade?.reason}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {upgrade.isError ? (
        <p role="alert">
          <strong>Not started:</strong> {problemMessage(upgrade.error)}
        </p>
      ) : null}
    </Dialog>
  );
}
