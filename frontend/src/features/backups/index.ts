export { ProjectBackups } from './components/project-backups';
export { useLastBackups } from './api/backups';
export type { GuestLastBackup } from './lib/last-backups';
