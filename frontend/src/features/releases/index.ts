// The releases feature's public surface, for the app layer.
export { ReleasesList } from './components/releases-list';
export { getReleasesQueryOptions, releasesQueryKey, useReleases } from './api/get-releases';
