import { useSearchParams } from 'react-router';
import { useCurrentUser } from '@/features/auth';
import { ReleasesPage } from '@/features/releases';
import { PageHeader } from '@/shared/ui/page-header';

export function ReleasesRoute() {
  const me = useCurrentUser();
  const [params, setParams] = useSearchParams();
  const build = Number(params.get('build'));
  return (
    <>
      <title>Releases · Ctrlable Provisioner</title>
      <PageHeader
        title="Releases"
        description="Release manifests from the provisioner's releases/ folder: which are valid, which one this host runs, and building a release into Proxmox templates."
      />
      <ReleasesPage
        role={me.data?.role ?? 'viewer'}
        selectedBuild={Number.isInteger(build) && build > 0 ? build : null}
        onSelectBuild={(id) => setParams(id === null ? {} : { build: String(id) })}
      />
    </>
  );
}
