import type { CredentialInstance, ProjectCredentials, SiteCredential } from '@/shared/api';
import { componentName } from '@/shared/lib/instances';

/**
 * How a secret is named in labels and notices: "MQTT password" for one of the whole site, "Zigbee network key of
 * smith-zigbee2mqtt" for a guest's.
 */
export function credentialName(credential: SiteCredential): string {
  return credential.hostname ? `${credential.label} of ${credential.hostname}` : credential.label;
}

export type CredentialGroups = {
  /** Each guest in the API's order, the app it runs, and its own secrets (possibly none). */
  guests: { instance: CredentialInstance; app: string; credentials: SiteCredential[] }[];
  /** The secrets of the whole site (MQTT, cameras), held by no one guest. */
  site: SiteCredential[];
};

/** The site's secrets as the page and the hand-over sheet show them: by guest, then the whole site's. */
export function credentialGroups(data: ProjectCredentials): CredentialGroups {
  return {
    guests: data.instances.map((instance) => ({
      instance,
      app: instance.app ?? componentName(instance.type),
      credentials: data.credentials.filter((c) => c.instanceId === instance.instanceId),
    })),
    site: data.credentials.filter((c) => c.instanceId == null),
  };
}
