// The deploy feature's public surface, for the app layer.
export { DeployProgress } from './components/deploy-progress';
export { DeployWizard } from './components/deploy-wizard';
export { ProjectGuests } from './components/project-guests';
