import type { GuestCard, ProjectGuests } from '@/shared/api';
import { plural } from '@/shared/lib/format';
import { EmptyState } from '@/shared/ui/empty-state';
import { FolderIcon } from '@/shared/ui/icons';
import { StatusBadge } from '@/shared/ui/status-badge';
import { groupHealth } from '../lib/guest-status';
import { GuestCardView, GuestStatusBadge } from './guest-card';
import styles from './dashboard.module.css';

function ProjectSection({ project }: { project: ProjectGuests }) {
  const health = groupHealth(project.guests);
  const titleId = `project-${project.projectId}-title`;
  return (
    <section className={styles.project} aria-labelledby={titleId} data-project={project.slug}>
      <header className={styles.projectHead}>
        <h3 id={titleId} className={styles.projectTitle}>
          {project.name}
        </h3>
        <span className={styles.count}>{plural(project.guests.length, 'guest')}</span>
        <GuestStatusBadge status={{ tone: health.tone, label: health.label, busy: false }} />
      </header>
      {project.guests.length === 0 ? (
        <p className={styles.muted}>No guests in this project yet.</p>
      ) : (
        <div className={styles.guestGrid}>
          {project.guests.map((guest) => (
            <GuestCardView key={guest.vmid} guest={guest} />
          ))}
        </div>
      )}
    </section>
  );
}

/** One section per project, each guest a card. */
export function ProjectGroups({ projects }: { projects: readonly ProjectGuests[] }) {
  return (
    <section className={styles.section} aria-labelledby="projects-title">
      <div className={styles.sectionHead}>
        <h2 id="projects-title" className={styles.sectionTitle}>
          Projects
        </h2>
        {projects.length > 0 ? <span className={styles.count}>{plural(projects.length, 'project')}</span> : null}
      </div>
      {projects.length === 0 ? (
        <EmptyState icon={<FolderIcon width={24} height={24} />} title="No projects yet">
          <p>
            A project is one site’s stack. Projects appear here with their guests once the first stack is
            deployed from this provisioner.
          </p>
        </EmptyState>
      ) : (
        <div className={styles.projects}>
          {projects.map((project) => (
            <ProjectSection key={project.projectId} project={project} />
          ))}
        </div>
      )}
    </section>
  );
}

/** Guests the provisioner did not deploy: collapsed by default, with a count. */
export function OtherGuests({ guests }: { guests: readonly GuestCard[] }) {
  if (guests.length === 0) return null;
  const health = groupHealth(guests);
  return (
    <section className={styles.section} aria-labelledby="other-guests-title">
      <details className={styles.otherGuests}>
        <summary className={styles.otherSummary}>
          <h2 id="other-guests-title" className={styles.sectionTitle}>
            Other guests
          </h2>
          <span className={styles.count}>{plural(guests.length, 'guest')}</span>
          <StatusBadge tone={health.tone}>{health.label}</StatusBadge>
        </summary>
        <p className={styles.sectionNote}>
          Containers and VMs on this host that the provisioner did not deploy. It shows them but never changes
          them.
        </p>
        <div className={styles.guestGrid}>
          {guests.map((guest) => (
            <GuestCardView key={guest.vmid} guest={guest} headingLevel={3} />
          ))}
        </div>
      </details>
    </section>
  );
}
