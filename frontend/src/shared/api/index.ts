export { ANTIFORGERY_HEADER, apiClient, unwrap } from './client';
export { ApiError, fieldErrors, problemCode, problemMessage } from './api-error';
export type {
  ApiTokenSummary,
  AuditPage,
  AuditRecord,
  CreatedToken,
  CurrentUser,
  ManifestError,
  ProblemDetails,
  ReleaseDetail,
  ReleaseSummary,
  Role,
  SetupStatus,
  TlsInfo,
  UserSummary,
} from './models';
