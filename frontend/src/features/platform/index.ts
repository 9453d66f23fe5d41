export { PlatformConnection } from './components/platform-connection';
