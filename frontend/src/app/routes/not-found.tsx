import { Link } from 'react-router';
import { EmptyState } from '@/shared/ui/empty-state';
import { paths } from '../paths';

export function NotFoundRoute() {
  return (
    <>
      <title>Page not found · Ctrlable Provisioner</title>
      <EmptyState title="This page does not exist">
        <p>
          The address may be mistyped or from an older version. Go to the{' '}
          <Link to={paths.releases.getHref()}>releases</Link>.
        </p>
      </EmptyState>
    </>
  );
}
