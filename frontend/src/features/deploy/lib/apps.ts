// Where each component's web app answers once its guest is up.
const APPS: Record<string, { name: string; port: number; scheme: 'http' | 'https' }> = {
  'ctrlable-pro': { name: 'Home Assistant', port: 8123, scheme: 'http' },
  zwavejs: { name: 'Z-Wave JS UI', port: 8091, scheme: 'http' },
  zigbee2mqtt: { name: 'Zigbee2MQTT', port: 8080, scheme: 'http' },
  'docker-portainer': { name: 'Portainer', port: 9443, scheme: 'https' },
  frigate: { name: 'Frigate', port: 5000, scheme: 'http' },
  freepbx: { name: 'FreePBX', port: 80, scheme: 'http' },
};

export type AppLink = { name: string; url: string };

/** The app's name, and its address when the guest's IP is known. */
export function appOf(type: string): { name: string } | null {
  const app = APPS[type];
  return app ? { name: app.name } : null;
}

/** The app's address: the one the orchestrator found (Home Assistant's live port), else the usual port on the guest's IP. */
export function appLink(type: string, ip: string | null | undefined, appUrl?: string | null): AppLink | null {
  const app = APPS[type];
  if (!app) return null;
  if (appUrl) return { name: app.name, url: appUrl };
  if (!ip) return null;
  const host = ip.includes(':') ? `[${ip}]` : ip;
  const defaultPort = (app.scheme === 'http' && app.port === 80) || (app.scheme === 'https' && app.port === 443);
  return { name: app.name, url: `${app.scheme}://${host}${defaultPort ? '' : `:${app.port}`}/` };
}
