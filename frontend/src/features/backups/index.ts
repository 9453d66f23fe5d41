export { ProjectBackups } from './components/project-backups';
