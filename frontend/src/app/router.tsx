import { createBrowserRouter, Navigate, type RouteObject } from 'react-router';
import { RouterProvider } from 'react-router/dom';
import { useState } from 'react';
import { AppShell } from './layout/app-shell';
import { paths } from './paths';
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
          // No dashboard yet: the releases page is the start page.
          { path: paths.home.path, element: <Navigate to={paths.releases.getHref()} replace /> },
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
