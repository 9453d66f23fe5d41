// Friendly names for the schemas of the generated OpenAPI types (schema.d.ts). Features import
// these instead of reaching into `components['schemas']` themselves.
import type { components } from './schema';

type Schemas = components['schemas'];

export type ReleaseSummary = Schemas['ReleaseSummary'];
export type ReleaseDetail = Schemas['ReleaseDetail'];
export type ReleaseTemplates = Schemas['ReleaseTemplates'];
export type ReleaseTemplate = Schemas['ReleaseTemplate'];
export type TemplatesRemovalResult = Schemas['TemplatesRemovalResult'];
export type ManifestError = Schemas['ManifestError'];
export type TemplateState = Schemas['TemplateState'];
export type TemplateBuildState = Schemas['TemplateBuildState'];
// A release's Home Assistant base backup (GET /api/releases/{release} baseBackup, PUT /api/releases/{release}/base-backup).
export type BaseBackupStatus = Schemas['BaseBackupStatus'];
export type StoredBaseBackup = Schemas['StoredBaseBackup'];

// Builds (POST /api/releases/{release}/build, /api/builds...).
export type BuildSummary = Schemas['BuildSummary'];
export type BuildDetail = Schemas['BuildDetail'];
export type BuildTemplateProgress = Schemas['BuildTemplateProgress'];
export type BuildState = Schemas['BuildState'];
export type BuildTemplateState = Schemas['BuildTemplateState'];
export type BuildStreamMessage = Schemas['BuildStreamMessage'];
export type BuildTriggerInfo = Schemas['BuildTriggerInfo'];
export type BuildCheckResult = Schemas['BuildCheckResult'];
export type ProblemDetails = Schemas['ProblemDetails'];

// Dashboard (GET /api/dashboard) and metric history (GET /api/nodes/{node}/metrics, /api/guests/{vmid}/metrics).
export type DashboardSnapshot = Schemas['DashboardSnapshot'];
export type NodeHealth = Schemas['NodeHealth'];
export type StorageHealth = Schemas['StorageHealth'];
export type ProjectGuests = Schemas['ProjectGuests'];
export type GuestCard = Schemas['GuestCard'];
/** Whether a running guest's app answers, and since when (GuestCard.app). */
export type AppHealth = Schemas['AppHealth'];
export type TemplateCard = Schemas['TemplateCard'];
export type MetricSeries = Schemas['MetricSeries'];
export type MetricPoint = Schemas['MetricPoint'];
/** The history windows the metrics endpoints accept (`?timeframe=`). */
export type MetricTimeframe = 'hour' | 'day' | 'week';
export type Role = Schemas['Role'];
export type CurrentUser = Schemas['CurrentUser'];
export type SetupStatus = Schemas['SetupStatus'];
export type UserSummary = Schemas['UserSummary'];
export type ApiTokenSummary = Schemas['ApiTokenSummary'];
export type CreatedToken = Schemas['CreatedToken'];
export type AuditPage = Schemas['AuditPage'];
export type AuditRecord = Schemas['AuditRecord'];

// Settings (GET/PUT /api/settings/proxmox).
export type ProxmoxSettingsView = Schemas['ProxmoxSettingsView'];
export type SaveProxmoxSettingsRequest = Schemas['SaveProxmoxSettingsRequest'];
export type BuildKeyView = Schemas['BuildKeyView'];
export type TlsInfo = Schemas['TlsInfo'];

// Platform report-up (issue #11: GET /api/platform/status, /api/platform/enrolment).
export type PlatformStatus = Schemas['PlatformStatus'];
export type PlatformConnection = Schemas['PlatformConnection'];

// Projects, deploys and instances (issue #7: the deploy pipeline).
export type Project = Schemas['ProjectDto'];
export type SiteSettings = Schemas['SiteSettings'];
export type CoordinatorSettings = Schemas['CoordinatorSettings'];
export type CoordinatorMode = Schemas['CoordinatorMode'];
export type MqttSettings = Schemas['MqttSettings'];
export type CameraSettings = Schemas['CameraSettings'];
export type NetworkSettings = Schemas['NetworkSettings'];
export type AddressingSettings = Schemas['AddressingSettings'];
export type AddressingMode = Schemas['AddressingMode'];
export type BackupSettings = Schemas['BackupSettings'];
export type BackupFrequency = Schemas['BackupFrequency'];
export type ProjectBackups = Schemas['ProjectBackups'];
export type GuestBackupView = Schemas['GuestBackupView'];
export type BackupArchiveView = Schemas['BackupArchiveView'];
export type BackupRunView = Schemas['BackupRunView'];
export type GuestRestoreView = Schemas['GuestRestoreView'];
export type CreateProjectRequest = Schemas['CreateProjectRequest'];
export type UpdateProjectRequest = Schemas['UpdateProjectRequest'];
export type Instance = Schemas['InstanceDto'];
/** One `snapshot` item or `progress` event of the deploy/project event streams (SSE). */
export type InstanceProgress = Schemas['InstanceProgress'];
export type Deploy = Schemas['DeployDto'];
export type ResourceSpec = Schemas['ResourceSpec'];

// Credentials hand-over (issue #17: GET /api/projects/{id}/credentials, reveal, rotate).
export type ProjectCredentials = Schemas['ProjectCredentials'];
export type SiteCredential = Schemas['SiteCredential'];
export type CredentialInstance = Schemas['CredentialInstance'];
export type RevealedCredential = Schemas['RevealedCredential'];

// Alerts (GET/POST /api/alerts/targets, PUT/DELETE /api/alerts/targets/{id}, POST …/test, GET /api/alerts/incidents).
export type AlertTargetView = Schemas['AlertTargetView'];
export type AlertTargetRequest = Schemas['AlertTargetRequest'];
export type AlertTestResult = Schemas['AlertTestResult'];
export type AlertIncidentView = Schemas['AlertIncidentView'];
