import { useMutation } from '@tanstack/react-query';
import { apiClient, unwrap } from '@/shared/api';

/** The shortest passphrase the backend accepts (BackupCipher.MinPassphraseLength). */
export const MIN_BACKUP_PASSPHRASE_LENGTH = 12;

export type BackupFile = { blob: Blob; fileName: string };

/** The file name of a Content-Disposition header (plain or quoted), or a fallback. */
export function attachmentName(header: string | null): string {
  const match = /filename="?([^";]+)"?/i.exec(header ?? '');
  return match?.[1]?.trim() || 'ctrlable-backup.ctrlable-backup';
}

/**
 * POST /api/settings/backup (admin): the orchestrator's backup, encrypted with the passphrase. The passphrase goes in
 * the JSON body, never in the URL; the answer is the file itself.
 */
export async function createBackup(passphrase: string): Promise<BackupFile> {
  let disposition: string | null = null;
  const blob = await unwrap(
    'POST',
    '/api/settings/backup',
    apiClient.POST('/api/settings/backup', { body: { passphrase }, parseAs: 'blob' }).then((result) => {
      disposition = result.response.headers.get('Content-Disposition');
      return result;
    }),
  );
  return { blob, fileName: attachmentName(disposition) };
}

export function useCreateBackup() {
  return useMutation({ mutationFn: createBackup });
}
