import { Link } from 'react-router';
import type { Project } from '@/shared/api';
import { componentName } from '@/shared/lib/instances';
import { plural } from '@/shared/lib/format';
import { buttonClass } from '@/shared/ui/button';
import { EmptyState } from '@/shared/ui/empty-state';
import { QueryError } from '@/shared/ui/query-error';
import { HomeIcon, PlusIcon } from '@/shared/ui/icons';
import { RelativeTime } from '@/shared/ui/relative-time';
import { Skeleton } from '@/shared/ui/skeleton';
import { StatusBadge } from '@/shared/ui/status-badge';
import { ToneIcon } from '@/shared/ui/tone-icon';
import { useProjects } from '../api/get-projects';
import { instanceCounts } from '../lib/instance-counts';
import styles from './projects.module.css';

export type ProjectLinks = {
  project: (id: number) => string;
  deploy: (id: number) => string;
  newProject: string;
};

function ProjectCard({ project, links, canOperate }: { project: Project; links: ProjectLinks; canOperate: boolean }) {
  const live = project.instances.filter((i) => i.state !== 'deleted');
  const counts = instanceCounts(live, project.settings);
  const worst = counts[0]?.tone ?? 'neutral';
  const types = [...new Set(live.map((i) => i.type))];
  const titleId = `project-${project.id}-title`;
  return (
    <article className={styles.projectCard} aria-labelledby={titleId} data-tone={live.length ? worst : 'neutral'}>
      <header className={styles.projectCardHead}>
        <div className={styles.projectCardTitleBlock}>
          <h2 id={titleId} className={styles.projectCardTitle}>
            <Link to={links.project(project.id)}>{project.name}</Link>
          </h2>
          <code className={styles.slug}>{project.slug}</code>
        </div>
        <span className={styles.guestCount}>{plural(live.length, 'guest')}</span>
      </header>
      {counts.length > 0 ? (
        <ul className={styles.counts} aria-label={`Guests of ${project.name} by state`}>
          {counts.map((c) => (
            <li key={c.tone}>
              <StatusBadge tone={c.tone} icon={<ToneIcon tone={c.tone} />}>
                {c.label}
              </StatusBadge>
            </li>
          ))}
        </ul>
      ) : (
        <p className={styles.muted}>Nothing deployed yet.</p>
      )}
      {types.length > 0 ? <p className={styles.components}>{types.map(componentName).join(' · ')}</p> : null}
      <footer className={styles.projectCardFoot}>
        <span className={styles.updated}>
          Changed <RelativeTime date={project.updatedAt} />
        </span>
        <div className={styles.cardActions}>
          <Link to={links.project(project.id)} className={buttonClass('secondary', 'small')} aria-label={`Open ${project.name}`}>
            Open
          </Link>
          {canOperate ? (
            <Link to={links.deploy(project.id)} className={buttonClass('primary', 'small')} aria-label={`Deploy to ${project.name}`}>
              Deploy
            </Link>
          ) : null}
        </div>
      </footer>
    </article>
  );
}

/** Every customer site as a card: its guests counted by state, and the way to open or deploy it. */
export function ProjectsList({ links, canOperate }: { links: ProjectLinks; canOperate: boolean }) {
  const query = useProjects();

  if (query.isPending) {
    return (
      <div className={styles.projectGrid} aria-busy="true">
        <p role="status" className="visually-hidden">
          Loading the projects…
        </p>
        {[0, 1, 2].map((n) => (
          <div key={n} className={styles.projectCard}>
            <Skeleton className={styles.skeletonTitle} />
            <Skeleton />
            <Skeleton />
          </div>
        ))}
      </div>
    );
  }

  if (query.isError) {
    return (
      <QueryError title="Could not load the projects" query={query}>
        <p>Check this device's network connection to the provisioner, then try again.</p>
      </QueryError>
    );
  }

  if (query.data.length === 0) {
    return (
      <EmptyState
        icon={<HomeIcon width={24} height={24} />}
        title="No projects yet — create one for the customer's site"
        action={
          canOperate ? (
            <Link to={links.newProject} className={buttonClass('primary')}>
              <PlusIcon />
              New project
            </Link>
          ) : null
        }
      >
        <p>
          A project holds one customer site's settings (Zigbee and Z-Wave coordinators, MQTT, cameras, network) and the
          guests deployed for it.
          {canOperate ? '' : ' Ask an operator or admin to create one: your role can look but not change.'}
        </p>
      </EmptyState>
    );
  }

  const projects = [...query.data].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <div className={styles.projectGrid}>
      {projects.map((project) => (
        <ProjectCard key={project.id} project={project} links={links} canOperate={canOperate} />
      ))}
    </div>
  );
}
