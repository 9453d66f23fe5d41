// The projects feature's public surface, for the app layer.
export { getProjectQueryOptions, projectQueryKey, useProject } from './api/get-project';
export { getProjectsQueryOptions, projectsQueryKey, useProjects } from './api/get-projects';
export { ProjectForm } from './components/project-form';
export { ProjectLoader } from './components/project-loader';
export { ProjectOverview } from './components/project-overview';
export { ProjectSettingsSummary } from './components/project-settings-summary';
export { ProjectsList, type ProjectLinks } from './components/projects-list';
