import type { Role } from '@/shared/api';
import { InfoIcon } from '@/shared/ui/icons';
import { useBuildTrigger } from '../api/builds';
import { BuildHistory } from './build-history';
import { BuildView } from './build-view';
import { ReleasesList } from './releases-list';
import styles from './builds.module.css';

const rank: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/**
 * The Releases page: the release files (validity, active, templates, the Home Assistant base backup and, for
 * admins, its upload), "Build" for operators with a confirmation, the build that runs (or the one picked from the history) live, and the history.
 * `selectedBuild` lives in the page address (?build=12) so a reload comes back to it.
 */
export function ReleasesPage({
  role,
  selectedBuild,
  onSelectBuild,
}: {
  role: Role;
  selectedBuild: number | null;
  onSelectBuild: (id: number | null) => void;
}) {
  const trigger = useBuildTrigger({
    queryConfig: { refetchInterval: (query) => (query.state.data?.running ? 5_000 : 30_000) },
  });
  const running = trigger.data?.running ?? null;
  const shown = selectedBuild ?? running?.id ?? null;
  const canBuild = rank[role] >= rank.operator;
  const blockedReason = !trigger.data
    ? 'Checking whether builds are possible…'
    : !trigger.data.configured
      ? 'Builds are not set up on this provisioner (host trigger).'
      : running
        ? `Build ${running.id} of ${running.release} is running; one build runs at a time.`
        : null;

  return (
    <div className={styles.page}>
      {trigger.data && !trigger.data.configured ? (
        <p className={styles.info} role="note">
          <InfoIcon />
          <span>
            Releases cannot be built from here yet: the host trigger on the Proxmox host is not set up (settings{' '}
            <code>HostTrigger:Host</code>, <code>KeyPath</code>, <code>HostKeyFingerprint</code>). The README explains how to
            install it.
          </span>
        </p>
      ) : null}
      {shown !== null ? (
        <BuildView key={shown} id={shown} onClose={selectedBuild !== null ? () => onSelectBuild(null) : undefined} />
      ) : null}
      <ReleasesList
        canUploadBaseBackup={role === 'admin'}
        canRemoveTemplates={role === 'admin'}
        build={{
          canBuild,
          blockedReason,
          target: trigger.data?.target ?? null,
          onStarted: (id) => {
            void trigger.refetch();
            onSelectBuild(id);
          },
        }}
      />
      <BuildHistory selected={shown} onSelect={onSelectBuild} />
    </div>
  );
}
