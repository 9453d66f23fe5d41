import { Link } from 'react-router';
import type { TemplateCard } from '@/shared/api';
import { plural } from '@/shared/lib/format';
import { EmptyState } from '@/shared/ui/empty-state';
import { AlertTriangleIcon, CheckCircleIcon, PackageIcon } from '@/shared/ui/icons';
import { StatusBadge } from '@/shared/ui/status-badge';
import table from '@/shared/ui/table.module.css';
import { kindLabel } from './guest-card';
import styles from './dashboard.module.css';
import { DataTable } from '@/shared/ui/data-table';

/** The active release's templates and whether Proxmox still holds each. */
export function TemplatesList({
  activeRelease,
  templates,
  releasesHref,
}: {
  activeRelease: string | null | undefined;
  templates: readonly TemplateCard[];
  releasesHref: string;
}) {
  if (!activeRelease) {
    return (
      <section className={styles.section} aria-labelledby="templates-title">
        <h2 id="templates-title" className={styles.sectionTitle}>
          Templates
        </h2>
        <EmptyState icon={<PackageIcon width={24} height={24} />} title="No release built yet">
          <p>
            Deploys clone the templates of the active release. Build one on the{' '}
            <Link to={releasesHref}>Releases page</Link>.
          </p>
        </EmptyState>
      </section>
    );
  }
  const missing = templates.filter((template) => !template.present).length;
  return (
    <section className={styles.section} aria-labelledby="templates-title">
      <div className={styles.sectionHead}>
        <h2 id="templates-title" className={styles.sectionTitle}>
          Templates of release {activeRelease}
        </h2>
        <span className={styles.count}>
          {plural(templates.length, 'template')}
          {missing > 0 ? ` · ${missing} missing` : null}
        </span>
      </div>
      <DataTable
        card
        caption={`Templates of release ${activeRelease} on Proxmox`}
        columns={[
          { header: 'Template' },
          { header: 'Kind' },
          { header: 'VMID', numeric: true },
          { header: 'Node' },
          { header: 'App version' },
          { header: 'On Proxmox' },
        ]}
        rows={templates}
        rowKey={(template) => template.name}
        renderRow={(template) => (
          <tr data-template={template.name}>
            <th scope="row" className={styles.templateName}>
              {template.name}
            </th>
            <td>{kindLabel(template.kind)}</td>
            <td className={table.numeric}>{template.vmid}</td>
            <td>{template.node}</td>
            <td>{template.appVersion ?? '—'}</td>
            <td>
              {template.present ? (
                <StatusBadge tone="success" icon={<CheckCircleIcon />}>
                  Present
                </StatusBadge>
              ) : (
                <StatusBadge tone="warning" icon={<AlertTriangleIcon />}>
                  Missing
                </StatusBadge>
              )}
            </td>
          </tr>
        )}
        empty={<p className={styles.muted}>This release lists no templates.</p>}
      />
    </section>
  );
}
