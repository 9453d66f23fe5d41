import { problemMessage, type TemplateState } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { CheckCircleIcon, ClockIcon, RotateIcon, XCircleIcon } from '@/shared/ui/icons';
import { RelativeTime } from '@/shared/ui/relative-time';
import { Spinner } from '@/shared/ui/spinner';
import { StatusBadge } from '@/shared/ui/status-badge';
import { useRelease } from '../api/get-release';
import { BaseBackupPanel } from './base-backup-panel';
import styles from './builds.module.css';

/** What the Releases page (and the build record) says when a HAOS image was verified against GitHub's digest. */
export const GITHUB_DIGEST_NOTE = 'digest from GitHub at build time, not pinned in the manifest';

function State({ template }: { template: TemplateState }) {
  switch (template.state) {
    case 'built':
      return (
        <StatusBadge tone="success" icon={<CheckCircleIcon />}>
          Built
        </StatusBadge>
      );
    case 'failed':
      return (
        <StatusBadge tone="danger" icon={<XCircleIcon />}>
          Unavailable
        </StatusBadge>
      );
    case 'building':
      return (
        <StatusBadge tone="info" icon={<Spinner />}>
          Building
        </StatusBadge>
      );
    default:
      return (
        <StatusBadge tone="neutral" icon={<ClockIcon />}>
          Not built
        </StatusBadge>
      );
  }
}

/** How the table offers rebuilding one template that is not built (operators, while no build runs). */
export type RebuildActions = {
  /** Why no build can start now, or null. */
  blockedReason: string | null;
  onRebuild: (template: string) => void;
};

/**
 * A release's templates with the versions and build state on this host (GET /api/releases/{release}): what is built
 * can be deployed; what is not says why (the build that failed it) and can be rebuilt alone.
 */
export function ReleaseTemplates({
  release,
  rebuild,
  canUploadBaseBackup = false,
}: {
  release: string;
  rebuild?: RebuildActions | undefined;
  /** Admins may upload the release's Home Assistant base backup (shown below the templates). */
  canUploadBaseBackup?: boolean;
}) {
  const query = useRelease(release);
  if (query.isPending) return <p role="status">Loading the templates of {release}…</p>;
  if (query.isError) return <p className={styles.formError}>Could not load the templates: {problemMessage(query.error)}</p>;
  const templates = query.data.templates;
  const baseBackup = query.data.baseBackup;
  return (
    <>
      <table className={styles.innerTable} aria-label={`Templates of ${release}`}>
        <thead>
          <tr>
            <th scope="col">Template</th>
            <th scope="col">Builder</th>
            <th scope="col">VMID</th>
            <th scope="col">App version</th>
            <th scope="col">On this host</th>
            {rebuild ? (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {templates.map((template) => (
            <tr key={template.name} data-template={template.name} data-state={template.state}>
              <th scope="row">
                {template.name} <span className={styles.muted}>{template.kind === 'vm' ? 'VM' : 'LXC'}</span>
              </th>
              <td>
                <code>{template.builder}</code>
              </td>
              <td>{template.vmid}</td>
              <td>{template.appVersion ?? <span className={styles.muted}>latest</span>}</td>
              <td>
                <State template={template} />
                {template.builtAt ? (
                  <span className={styles.muted}>
                    {' '}
                    <RelativeTime date={template.builtAt} />
                    {template.node ? ` on ${template.node}` : null}
                  </span>
                ) : null}
                {template.state !== 'built' && template.reason ? (
                  <span className={styles.templateReason}>
                    {template.state === 'building' ? '' : 'Cannot be deployed: '}
                    {template.reason}
                  </span>
                ) : null}
                {template.haosDigest === 'github' ? <span className={styles.digestNote}>HAOS image {GITHUB_DIGEST_NOTE}</span> : null}
              </td>
              {rebuild ? (
                <td>
                  {template.state === 'failed' || template.state === 'not-built' ? (
                    <Button
                      onClick={() => rebuild.onRebuild(template.name)}
                      disabled={rebuild.blockedReason !== null}
                      title={rebuild.blockedReason ?? undefined}
                      aria-label={`Rebuild ${template.name} of ${release}`}
                    >
                      <RotateIcon />
                      {template.state === 'failed' ? 'Rebuild' : 'Build'}
                    </Button>
                  ) : null}
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
      {baseBackup ? <BaseBackupPanel release={release} status={baseBackup} canUpload={canUploadBaseBackup} /> : null}
    </>
  );
}
