import { createBrowserRouter, type RouteObject } from 'react-router';
import { RouterProvider } from 'react-router/dom';
import { useState } from 'react';
import { AppShell } from './layout/app-shell';
import { paths } from './paths';
import { DashboardRoute } from './routes/dashboard';
import { NotFoundRoute } from './routes/not-found';
import { ReleasesRoute } from './routes/releases';
import { RouteError } from './routes/route-error';

export const routes: RouteObject[] = [
  {
    element: <AppShell />,
    children: [
      {
        errorElement: <RouteError />,
        children: [
          { path: paths.home.path, element: <DashboardRoute /> },
          { path: paths.releases.path, element: <ReleasesRoute /> },
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
