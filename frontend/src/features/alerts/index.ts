export { AlertIncidents, AlertTargets } from './components/alert-targets';
