import { Link, useNavigate, useParams } from 'react-router';
import { useCurrentUser } from '@/features/auth';
import { CredentialsPage } from '@/features/credentials';
import { DeployProgress, DeployWizard, ProjectGuests } from '@/features/deploy';
import { ProjectBackups, useLastBackups } from '@/features/backups';
import { ProjectForm, ProjectLoader, ProjectOverview, ProjectSettingsSummary, ProjectsList } from '@/features/projects';
import type { Project } from '@/shared/api';
import { Breadcrumb } from '@/shared/ui/breadcrumb';
import { buttonClass } from '@/shared/ui/button';
import { EmptyState } from '@/shared/ui/empty-state';
import { PlusIcon } from '@/shared/ui/icons';
import { PageHeader } from '@/shared/ui/page-header';
import { PRODUCT_NAME } from '../layout/app-shell';
import { paths } from '../paths';

/** Operators and admins change things; viewers see everything but no action buttons. */
function useCanOperate(): boolean {
  const role = useCurrentUser().data?.role;
  return role === 'operator' || role === 'admin';
}

function useIsAdmin(): boolean {
  return useCurrentUser().data?.role === 'admin';
}

function useIdParam(): number | null {
  const { id } = useParams();
  const n = Number(id);
  return Number.isInteger(n) && n > 0 ? n : null;
}

function NotFound({ what }: { what: string }) {
  return (
    <EmptyState title={`This ${what} does not exist`}>
      <p>
        The address may be mistyped. See all <Link to={paths.projects.getHref()}>projects</Link>.
      </p>
    </EmptyState>
  );
}

/** Shown instead of a form to a viewer who opened its address. */
function ViewerOnly({ backHref }: { backHref: string }) {
  return (
    <EmptyState title="Your role can look, not change">
      <p>
        Creating, editing and deploying needs the operator or admin role. <Link to={backHref}>Go back</Link>.
      </p>
    </EmptyState>
  );
}

const projectLinks = {
  project: (id: number) => paths.project.getHref(id),
  deploy: (id: number) => paths.deployProject.getHref(id),
  newProject: paths.newProject.getHref(),
};

export function ProjectsRoute() {
  const canOperate = useCanOperate();
  return (
    <>
      <title>{`Projects · ${PRODUCT_NAME}`}</title>
      <PageHeader
        title="Projects"
        description="One project per customer site: its settings, and the guests deployed for it."
        actions={
          canOperate ? (
            <Link to={paths.newProject.getHref()} className={buttonClass('primary')}>
              <PlusIcon />
              New project
            </Link>
          ) : null
        }
      />
      <ProjectsList links={projectLinks} canOperate={canOperate} />
    </>
  );
}

export function NewProjectRoute() {
  const canOperate = useCanOperate();
  const navigate = useNavigate();
  return (
    <>
      <title>{`New project · ${PRODUCT_NAME}`}</title>
      <Breadcrumb items={[{ label: 'Projects', to: paths.projects.getHref() }, { label: 'New project' }]} />
      <PageHeader
        title="New project"
        description="The customer's site: how its guests find the Zigbee and Z-Wave coordinators, MQTT, cameras and the network. Defaults suit most sites."
      />
      {canOperate ? (
        <ProjectForm
          cancelHref={paths.projects.getHref()}
          onSaved={(project) => void navigate(paths.project.getHref(project.id))}
        />
      ) : (
        <ViewerOnly backHref={paths.projects.getHref()} />
      )}
    </>
  );
}

/** The project's guest cards, each with its last backup from the backups feature (one query, shared with the Backups panel). */
function ProjectGuestsWithBackups({ project, canOperate }: { project: Project; canOperate: boolean }) {
  const lastBackups = useLastBackups(project.id);
  return (
    <ProjectGuests
      project={project}
      canOperate={canOperate}
      lastBackups={lastBackups.data}
      links={{ deploy: (deployId) => paths.deploy.getHref(deployId), deployWizard: paths.deployProject.getHref(project.id) }}
    />
  );
}

export function ProjectRoute() {
  const id = useIdParam();
  const canOperate = useCanOperate();
  const isAdmin = useIsAdmin();
  if (id === null) return <NotFound what="project" />;
  return (
    <ProjectLoader id={id} projectsHref={paths.projects.getHref()}>
      {(project) => (
        <>
          <title>{`${project.name} · ${PRODUCT_NAME}`}</title>
          <ProjectOverview
            project={project}
            canOperate={canOperate}
            backups={<ProjectBackups projectId={project.id} canOperate={canOperate} />}
            links={{
              edit: paths.editProject.getHref(project.id),
              deploy: paths.deployProject.getHref(project.id),
              projects: paths.projects.getHref(),
              credentials: isAdmin ? paths.projectCredentials.getHref(project.id) : undefined,
            }}
            guests={<ProjectGuestsWithBackups project={project} canOperate={canOperate} />}
          />
        </>
      )}
    </ProjectLoader>
  );
}

export function EditProjectRoute() {
  const id = useIdParam();
  const canOperate = useCanOperate();
  const navigate = useNavigate();
  if (id === null) return <NotFound what="project" />;
  return (
    <ProjectLoader id={id} projectsHref={paths.projects.getHref()}>
      {(project) => (
        <>
          <title>{`Edit ${project.name} · ${PRODUCT_NAME}`}</title>
          <Breadcrumb
            items={[
              { label: 'Projects', to: paths.projects.getHref() },
              { label: project.name, to: paths.project.getHref(project.id) },
              { label: 'Edit settings' },
            ]}
          />
          <PageHeader title={`Edit ${project.name}`} description="Site settings apply to guests deployed from now on." />
          {canOperate ? (
            <ProjectForm
              project={project}
              cancelHref={paths.project.getHref(project.id)}
              onSaved={(saved) => void navigate(paths.project.getHref(saved.id))}
            />
          ) : (
            <ViewerOnly backHref={paths.project.getHref(project.id)} />
          )}
        </>
      )}
    </ProjectLoader>
  );
}

export function ProjectCredentialsRoute() {
  const id = useIdParam();
  const isAdmin = useIsAdmin();
  if (id === null) return <NotFound what="project" />;
  return (
    <ProjectLoader id={id} projectsHref={paths.projects.getHref()}>
      {(project) => (
        <>
          <title>{`Credentials of ${project.name} · ${PRODUCT_NAME}`}</title>
          <Breadcrumb
            items={[
              { label: 'Projects', to: paths.projects.getHref() },
              { label: project.name, to: paths.project.getHref(project.id) },
              { label: 'Credentials' },
            ]}
          />
          <PageHeader
            title={`Credentials of ${project.name}`}
            description="Passwords, keys and tokens of this site, the hand-over sheet for the customer, and rotating what can be rotated."
          />
          <CredentialsPage projectId={project.id} isAdmin={isAdmin} />
        </>
      )}
    </ProjectLoader>
  );
}

export function DeployWizardRoute() {
  const id = useIdParam();
  const canOperate = useCanOperate();
  const navigate = useNavigate();
  if (id === null) return <NotFound what="project" />;
  return (
    <ProjectLoader id={id} projectsHref={paths.projects.getHref()}>
      {(project) => (
        <>
          <title>{`Deploy to ${project.name} · ${PRODUCT_NAME}`}</title>
          <Breadcrumb
            items={[
              { label: 'Projects', to: paths.projects.getHref() },
              { label: project.name, to: paths.project.getHref(project.id) },
              { label: 'Deploy' },
            ]}
          />
          <PageHeader title={`Deploy to ${project.name}`} description="Choose the components, check they fit on the host, and deploy." />
          {canOperate ? (
            <DeployWizard
              project={project}
              siteSummary={<ProjectSettingsSummary settings={project.settings} />}
              links={{
                project: paths.project.getHref(project.id),
                editProject: paths.editProject.getHref(project.id),
                releases: paths.releases.getHref(),
              }}
              onDeployed={(deployId) => void navigate(paths.deploy.getHref(deployId))}
            />
          ) : (
            <ViewerOnly backHref={paths.project.getHref(project.id)} />
          )}
        </>
      )}
    </ProjectLoader>
  );
}

export function DeployProgressRoute() {
  const id = useIdParam();
  const canOperate = useCanOperate();
  if (id === null) return <NotFound what="deploy" />;
  return (
    <>
      <title>{`Deploy #${id} · ${PRODUCT_NAME}`}</title>
      <DeployProgress
        deployId={id}
        canOperate={canOperate}
        links={{ project: (projectId) => paths.project.getHref(projectId), projects: paths.projects.getHref() }}
      />
    </>
  );
}
