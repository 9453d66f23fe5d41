import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useCurrentUser } from '@/features/auth';
import { ApiError, problemCode } from '@/shared/api';
import { QueryError } from '@/shared/ui/query-error';
import { paths } from '../paths';

/**
 * The route guard: no admin yet (503 setup-required) → setup; not signed in (401) → sign-in, coming
 * back here afterwards; signed in → the page.
 */
export function RequireSession({ children }: { children: ReactNode }) {
  const me = useCurrentUser();
  const location = useLocation();

  if (me.isPending) return <p role="status">Loading…</p>;
  if (me.isError) {
    if (problemCode(me.error) === 'setup-required') return <Navigate to={paths.setup.getHref()} replace />;
    if (me.error instanceof ApiError && me.error.status === 401)
      return <Navigate to={paths.signIn.getHref(location.pathname + location.search)} replace />;
    return (
      <QueryError title="Could not reach the provisioner" query={me}>
        <p>Check that it is running and that this device can reach it, then try again.</p>
      </QueryError>
    );
  }
  return <>{children}</>;
}
