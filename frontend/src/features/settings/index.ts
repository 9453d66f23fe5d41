export { BackupDownload } from './components/backup-download';
export { BuildKeyPassphrase } from './components/build-key-passphrase';
export { ProxmoxConnection } from './components/proxmox-connection';
export { TlsCertificate } from './components/tls-certificate';
