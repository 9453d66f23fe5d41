import { problemMessage, type TemplateState } from '@/shared/api';
import { CheckCircleIcon, ClockIcon } from '@/shared/ui/icons';
import { RelativeTime } from '@/shared/ui/relative-time';
import { StatusBadge } from '@/shared/ui/status-badge';
import { useRelease } from '../api/get-release';
import styles from './builds.module.css';

function State({ template }: { template: TemplateState }) {
  return template.state === 'built' ? (
    <StatusBadge tone="success" icon={<CheckCircleIcon />}>
      Built
    </StatusBadge>
  ) : (
    <StatusBadge tone="neutral" icon={<ClockIcon />}>
      Not built
    </StatusBadge>
  );
}

/** A release's templates with the versions and build state on this host (GET /api/releases/{release}). */
export function ReleaseTemplates({ release }: { release: string }) {
  const query = useRelease(release);
  if (query.isPending) return <p role="status">Loading the templates of {release}…</p>;
  if (query.isError) return <p className={styles.formError}>Could not load the templates: {problemMessage(query.error)}</p>;
  const templates = query.data.templates;
  return (
    <table className={styles.innerTable} aria-label={`Templates of ${release}`}>
      <thead>
        <tr>
          <th scope="col">Template</th>
          <th scope="col">Builder</th>
          <th scope="col">VMID</th>
          <th scope="col">App version</th>
          <th scope="col">On this host</th>
        </tr>
      </thead>
      <tbody>
        {templates.map((template) => (
          <tr key={template.name} data-template={template.name}>
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
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
