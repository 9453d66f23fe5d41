export { apiClient, unwrap } from './client';
export { ApiError } from './api-error';
export type {
  DashboardSnapshot,
  GuestCard,
  ManifestError,
  MetricPoint,
  MetricSeries,
  MetricTimeframe,
  NodeHealth,
  ProblemDetails,
  ProjectGuests,
  ReleaseDetail,
  ReleaseSummary,
  StorageHealth,
  TemplateCard,
} from './models';
