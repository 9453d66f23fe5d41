export { TlsCertificate } from './components/tls-certificate';
