// The credentials feature's public surface, for the app layer: a site's secrets and its hand-over sheet.
export { credentialsQueryKey, useCredentials } from './api/credentials';
export { CredentialsPage } from './components/credentials-page';
export { HandoverSheet } from './components/handover-sheet';
