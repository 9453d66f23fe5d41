// The dashboard feature's public surface, for the app layer.
export { Dashboard } from './components/dashboard';
export { dashboardQueryKey, getDashboardQueryOptions, useDashboard } from './api/get-dashboard';
