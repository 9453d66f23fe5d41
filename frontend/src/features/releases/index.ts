// The releases feature's public surface, for the app layer.
export { ReleasesList } from './components/releases-list';
export { ReleasesPage } from './components/releases-page';
export { BuildView } from './components/build-view';
export { getReleasesQueryOptions, releasesQueryKey, useReleases } from './api/get-releases';
export { getBuildTriggerQueryOptions, useBuildTrigger } from './api/builds';
