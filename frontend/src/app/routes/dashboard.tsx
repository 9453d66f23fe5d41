import { Dashboard } from '@/features/dashboard';
import { paths } from '../paths';

export function DashboardRoute() {
  return (
    <>
      <title>Dashboard · Ctrlable Provisioner</title>
      <Dashboard releasesHref={paths.releases.getHref()} />
    </>
  );
}
