import { createBrowserRouter, type RouteObject } from 'react-router';
import { RouterProvider } from 'react-router/dom';
import { useState } from 'react';
import { AppShell } from './layout/app-shell';
import { RequireSession } from './layout/require-session';
import { paths } from './paths';
import { DashboardRoute } from './routes/dashboard';
import { AuditRoute, TokensRoute, UsersRoute } from './routes/admin';
import { NotFoundRoute } from './routes/not-found';
import { ReleasesRoute } from './routes/releases';
import { RouteError } from './routes/route-error';
import { AlertsRoute, SettingsRoute } from './routes/settings';
import { SetupRoute } from './routes/setup';
import { SignInRoute } from './routes/sign-in';

type ProjectsRoutes = typeof import('./routes/projects');

function projectsRoute(name: keyof ProjectsRoutes) {
  return async () => ({ Component: (await import('./routes/projects'))[name] });
}

export const routes: RouteObject[] = [
  { path: paths.setup.path, element: <SetupRoute />, errorElement: <RouteError /> },
  { path: paths.signIn.path, element: <SignInRoute />, errorElement: <RouteError /> },
  {
    element: (
      <RequireSession>
        <AppShell />
      </RequireSession>
    ),
    children: [
      {
        errorElement: <RouteError />,
        children: [
          { path: paths.home.path, element: <DashboardRoute /> },
          // Projects and deploys load on first visit (their own chunk), keeping the start page small.
          { path: paths.projects.path, lazy: projectsRoute('ProjectsRoute') },
          { path: paths.newProject.path, lazy: projectsRoute('NewProjectRoute') },
          { path: paths.project.path, lazy: projectsRoute('ProjectRoute') },
          { path: paths.editProject.path, lazy: projectsRoute('EditProjectRoute') },
          { path: paths.projectCredentials.path, lazy: projectsRoute('ProjectCredentialsRoute') },
          { path: paths.deployProject.path, lazy: projectsRoute('DeployWizardRoute') },
          { path: paths.deploy.path, lazy: projectsRoute('DeployProgressRoute') },
          { path: paths.releases.path, element: <ReleasesRoute /> },
          { path: paths.settings.path, element: <SettingsRoute /> },
          { path: paths.alerts.path, element: <AlertsRoute /> },
          { path: paths.users.path, element: <UsersRoute /> },
          { path: paths.tokens.path, element: <TokensRoute /> },
          { path: paths.audit.path, element: <AuditRoute /> },
          { path: '*', element: <NotFoundRoute /> },
        ],
      },
    ],
  },
];

export function AppRouter() {
  const [router] = useState(() => createBrowserRouter(routes));
  return <RouterProvider router={router} />;
}
