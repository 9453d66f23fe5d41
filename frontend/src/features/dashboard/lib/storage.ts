import type { StorageHealth } from '@/shared/api';

/**
 * Whether guests' disks can live on this storage. Proxmox lists content types such as
 * "images,rootdir,iso"; a storage that only holds ISO images or backups never receives a deploy.
 * An empty content list is treated as "might".
 */
export function holdsGuestDisks(storage: Pick<StorageHealth, 'content'>): boolean {
  const content = storage.content.split(',').map((part) => part.trim()).filter(Boolean);
  return content.length === 0 || content.includes('images') || content.includes('rootdir');
}

/** Deploys onto this storage cannot be linked clones: each would be a slow full copy. */
export function isSlowForDeploys(storage: Pick<StorageHealth, 'content' | 'linkedClones'>): boolean {
  return !storage.linkedClones && holdsGuestDisks(storage);
}
