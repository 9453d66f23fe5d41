import type { ReactNode } from 'react';
import { Link } from 'react-router';
import type { Project } from '@/shared/api';
import { Breadcrumb } from '@/shared/ui/breadcrumb';
import { buttonClass } from '@/shared/ui/button';
import { KeyIcon, PencilIcon } from '@/shared/ui/icons';
import { PageHeader } from '@/shared/ui/page-header';
import { RelativeTime } from '@/shared/ui/relative-time';
import { ProjectSettingsSummary } from './project-settings-summary';
import styles from './projects.module.css';

/**
 * A project's page: its name and actions, its guests (the `guests` slot, live, from the deploy
 * feature) and a summary of its site settings.
 */
export function ProjectOverview({
  project,
  links,
  canOperate,
  guests,
  backups,
}: {
  project: Project;
  /** credentials: the site's Credentials view, for admins only (absent for other roles). */
  links: { edit: string; deploy: string; projects: string; credentials?: string | undefined };
  canOperate: boolean;
  guests: ReactNode;
  /** The project's guest backups (the backups feature's panel), when the page shows them. */
  backups?: ReactNode;
}) {
  return (
    <>
      <Breadcrumb items={[{ label: 'Projects', to: links.projects }, { label: project.name }]} />
      <PageHeader
        title={project.name}
        description={
          <>
            <code>{project.slug}</code> · created <RelativeTime date={project.createdAt} />
          </>
        }
        actions={
          canOperate ? (
            <>
              {links.credentials ? (
                <Link to={links.credentials} className={buttonClass('secondary')}>
                  <KeyIcon />
                  Credentials
                </Link>
              ) : null}
              <Link to={links.edit} className={buttonClass('secondary')}>
                <PencilIcon />
                Edit settings
              </Link>
              <Link to={links.deploy} className={buttonClass('primary')}>
                Deploy components
              </Link>
            </>
          ) : null
        }
      />
      <div className={styles.detail}>
        <section className={styles.detailMain} aria-labelledby="guests-title">
          <h2 id="guests-title" className={styles.sectionTitle}>
            Guests
          </h2>
          {guests}
          {backups ? (
            <>
              <h2 id="backups-title" className={styles.sectionTitle}>
                Backups
              </h2>
              {backups}
            </>
          ) : null}
        </section>
        <aside className={styles.detailSide} aria-labelledby="settings-title">
          <div className={styles.sideHead}>
            <h2 id="settings-title" className={styles.sectionTitle}>
              Site settings
            </h2>
            {canOperate ? (
              <Link to={links.edit} className={styles.sideLink}>
                Edit
              </Link>
            ) : null}
          </div>
          <ProjectSettingsSummary settings={project.settings} />
        </aside>
      </div>
    </>
  );
}
