import { useState } from 'react';
import type { ReleaseSummary } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { DataTable, type Column } from '@/shared/ui/data-table';
import { PackageIcon, StarIcon } from '@/shared/ui/icons';
import { Skeleton } from '@/shared/ui/skeleton';
import { StatusBadge } from '@/shared/ui/status-badge';
import { VisuallyHidden } from '@/shared/ui/visually-hidden';
import table from '@/shared/ui/table.module.css';
import { BuildConfirm } from './build-confirm';
import { ManifestErrors } from './manifest-errors';
import { ReleaseTemplates } from './release-templates';
import { RemoveTemplates } from './remove-templates';
import { ValidityBadge } from './validity-badge';
import styles from './releases.module.css';

/** What the table needs to offer "Build release": who may, whether the host can, and what to do once started. */
export type BuildActions = {
  /** The caller is an operator (or admin). */
  canBuild: boolean;
  /** Why no build can start now (no host trigger, a build running), or null. */
  blockedReason: string | null;
  /** user@host:port of the host trigger. */
  target: string | null;
  onStarted: (id: number) => void;
};

const COLUMNS: readonly Column[] = [
  { header: 'Release' },
  { header: 'Status' },
  { header: 'Active' },
  { header: 'Community scripts' },
  { header: 'Proxmox VE' },
  { header: 'Templates', numeric: true },
  { header: 'Actions', hidden: true },
];

const CAPTION = 'Release manifests in releases/';

function NotSet() {
  return (
    <span className={styles.muted}>
      <span aria-hidden="true">—</span>
      <VisuallyHidden>not set</VisuallyHidden>
    </span>
  );
}

const COMMIT_SHA = /^[0-9a-f]{40}$/i;

/** A tag shows as is; a 40-hex commit shows its first 12 digits (the whole one on hover). */
function ScriptsRef({ value }: { value: string }) {
  if (!COMMIT_SHA.test(value)) return <code>{value}</code>;
  return (
    <code title={value}>
      {value.slice(0, 12)}
      <VisuallyHidden>{value.slice(12)}</VisuallyHidden>
    </code>
  );
}

/**
 * The Active column: the one release deploys use, and whether it is complete here. A release becomes active as soon
 * as one of its templates is built; until the others are, they cannot be deployed ("partly built").
 */
function Activity({ release }: { release: ReleaseSummary }) {
  const partial = release.templatesBuilt < release.templateCount;
  if (release.active) {
    return (
      <span className={styles.activity}>
        <StatusBadge tone={partial ? 'warning' : 'success'} icon={<StarIcon />}>
          {partial ? 'Active, partly built' : 'Active'}
        </StatusBadge>
        {partial ? (
          <span className={styles.muted}>
            {release.templatesBuilt} of {release.templateCount} templates built
          </span>
        ) : null}
      </span>
    );
  }
  return (
    <span className={styles.muted}>
      <span aria-hidden="true">—</span>
      <VisuallyHidden>not active</VisuallyHidden>
      {release.templatesBuilt > 0 ? ` ${release.templatesBuilt} of ${release.templateCount} built here` : null}
    </span>
  );
}

export function ReleasesTable({
  releases,
  build,
  canUploadBaseBackup = false,
  canRemoveTemplates = false,
}: {
  releases: ReleaseSummary[];
  build?: BuildActions;
  /** Admins: the release details offer uploading its Home Assistant base backup. */
  canUploadBaseBackup?: boolean;
  /** Admins: a release that is not active offers removing its templates from the host. */
  canRemoveTemplates?: boolean;
}) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  // The confirmation open under a release: a build of all of it, or a rebuild of some templates.
  const [confirming, setConfirming] = useState<{ release: string; templates?: string[] } | null>(null);
  const toggle = (name: string) =>
    setOpen((current) => {
      const next = new Set(current);
      if (next.has(name)) next.delete(name);
      else next.add(name);
      return next;
    });
  return (
    <DataTable
      card
      caption={CAPTION}
      columns={COLUMNS}
      rows={releases}
      rowKey={(release) => release.file}
      renderRow={(release) => (
        <>
          <tr className={release.valid ? undefined : styles.invalidRow} data-release={release.name}>
            <th scope="row" className={styles.releaseCell}>
              <span className={styles.releaseName}>{release.name}</span>{' '}
              <span className={styles.releaseFile}>{release.file}</span>
            </th>
            <td>
              <ValidityBadge valid={release.valid} />
            </td>
            <td>
              <Activity release={release} />
            </td>
            <td>{release.communityScriptsRef ? <ScriptsRef value={release.communityScriptsRef} /> : <NotSet />}</td>
            <td>{release.proxmoxMinVersion ? `${release.proxmoxMinVersion} or later` : <NotSet />}</td>
            <td className={table.numeric}>
              {release.valid && release.templateCount > 0 ? (
                <button
                  type="button"
                  className={styles.countToggle}
                  onClick={() => toggle(release.name)}
                  aria-expanded={open.has(release.name)}
                  aria-label={`Templates of ${release.name}`}
                  title={open.has(release.name) ? 'Hide the templates' : 'Show the templates, their versions and build state'}
                >
                  {release.templateCount}
                  <span className={styles.chevron} aria-hidden="true">
                    {open.has(release.name) ? '▴' : '▾'}
                  </span>
                </button>
              ) : (
                release.templateCount
              )}
            </td>
            <td>
              <div className={styles.actions}>
                {release.valid && build?.canBuild ? (
                  <Button
                    variant="primary"
                    onClick={() => setConfirming({ release: release.name })}
                    disabled={build.blockedReason !== null || (confirming?.release === release.name && !confirming.templates)}
                    title={build.blockedReason ?? undefined}
                    aria-label={`Build release ${release.name}`}
                  >
                    <PackageIcon />
                    Build
                  </Button>
                ) : null}
              </div>
            </td>
          </tr>
          {release.valid ? null : (
            <tr className={styles.errorsRow}>
              <td colSpan={COLUMNS.length}>
                <ManifestErrors release={release.name} errors={release.errors} />
              </td>
            </tr>
          )}
          {release.warnings.length > 0 ? (
            <tr className={styles.errorsRow}>
              <td colSpan={COLUMNS.length}>
                <ManifestErrors release={release.name} errors={release.warnings} warnings />
              </td>
            </tr>
          ) : null}
          {confirming?.release === release.name && release.valid && build ? (
            <tr className={styles.detailRow}>
              <td colSpan={COLUMNS.length}>
                <BuildConfirm
                  key={confirming.templates?.join(',') ?? ''}
                  release={release}
                  templates={confirming.templates}
                  target={build.target}
                  onCancel={() => setConfirming(null)}
                  onStarted={(id) => {
                    setConfirming(null);
                    build.onStarted(id);
                  }}
                />
              </td>
            </tr>
          ) : null}
          {open.has(release.name) ? (
            <tr className={styles.detailRow}>
              <td colSpan={COLUMNS.length}>
                <ReleaseTemplates
                  release={release.name}
                  canUploadBaseBackup={canUploadBaseBackup}
                  rebuild={
                    release.valid && build?.canBuild
                      ? {
                          blockedReason: build.blockedReason,
                          onRebuild: (template) => setConfirming({ release: release.name, templates: [template] }),
                        }
                      : undefined
                  }
                />
                {!release.active && release.templatesBuilt > 0 ? (
                  <RemoveTemplates release={release.name} canRemove={canRemoveTemplates} />
                ) : null}
              </td>
            </tr>
          ) : null}
        </>
      )}
    />
  );
}

export function ReleasesTableSkeleton({ rows = 3 }: { rows?: number }) {
  return (
    <>
      <p role="status" className="visually-hidden">
        Loading releases…
      </p>
      <DataTable
        card
        busy
        caption={CAPTION}
        columns={COLUMNS}
        rows={Array.from({ length: rows }, (_, row) => row)}
        rowKey={(row) => row}
        renderRow={() => (
          <tr data-testid="release-skeleton-row">
            <td>
              <Skeleton className={styles.skeletonName} />
              <Skeleton className={styles.skeletonFile} />
            </td>
            <td>
              <Skeleton className={styles.skeletonBadge} />
            </td>
            <td>
              <Skeleton className={styles.skeletonBadge} />
            </td>
            <td>
              <Skeleton className={styles.skeletonText} />
            </td>
            <td>
              <Skeleton className={styles.skeletonText} />
            </td>
            <td className={table.numeric}>
              <Skeleton className={styles.skeletonNumber} />
            </td>
            <td />
          </tr>
        )}
      />
    </>
  );
}
