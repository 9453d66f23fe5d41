import { ReleasesList } from '@/features/releases';
import { PageHeader } from '@/shared/ui/page-header';

export function ReleasesRoute() {
  return (
    <>
      <title>Releases · Ctrlable Provisioner</title>
      <PageHeader
        title="Releases"
        description="Release manifests from the provisioner's releases/ folder: which are valid, and which one this host runs."
      />
      <ReleasesList />
    </>
  );
}
