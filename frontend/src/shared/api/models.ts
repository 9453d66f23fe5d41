// Friendly names for the schemas of the generated OpenAPI types (schema.d.ts). Features import
// these instead of reaching into `components['schemas']` themselves.
import type { components } from './schema';

type Schemas = components['schemas'];

export type ReleaseSummary = Schemas['ReleaseSummary'];
export type ReleaseDetail = Schemas['ReleaseDetail'];
export type ManifestError = Schemas['ManifestError'];
export type ProblemDetails = Schemas['ProblemDetails'];

export type Role = Schemas['Role'];
export type CurrentUser = Schemas['CurrentUser'];
export type SetupStatus = Schemas['SetupStatus'];
export type UserSummary = Schemas['UserSummary'];
export type ApiTokenSummary = Schemas['ApiTokenSummary'];
export type CreatedToken = Schemas['CreatedToken'];
export type AuditPage = Schemas['AuditPage'];
export type AuditRecord = Schemas['AuditRecord'];
export type TlsInfo = Schemas['TlsInfo'];
