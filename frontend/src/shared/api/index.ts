export { apiClient, unwrap } from './client';
export { ApiError } from './api-error';
export type { ManifestError, ProblemDetails, ReleaseDetail, ReleaseSummary } from './models';
