import { isRouteErrorResponse, useRouteError } from 'react-router';
import { ErrorState } from '@/shared/ui/error-state';

/** Last resort when a page itself crashes: say so, offer a reload, keep the detail at hand. */
export function RouteError() {
  const error = useRouteError();
  const details = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : error instanceof Error
      ? `${error.name}: ${error.message}`
      : String(error);
  return (
    <ErrorState
      title="This page stopped working"
      details={details}
      onRetry={() => window.location.reload()}
    >
      <p>Reloading usually helps. If it keeps happening, send the details to whoever looks after this provisioner.</p>
    </ErrorState>
  );
}
