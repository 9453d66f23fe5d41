import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ANTIFORGERY_HEADER, ApiError, isProblemDetails, type BaseBackupStatus } from '@/shared/api';
import { releaseQueryKey } from './get-release';

/** How much of the file the browser has sent. */
export type UploadProgress = { loaded: number; total: number };

export type UploadBaseBackupInput = {
  release: string;
  file: File;
  /** The password of Home Assistant's owner in the backup (the deploy signs in with it). */
  password: string;
  /** An encrypted backup's key; empty for an unencrypted one. */
  backupPassword?: string | undefined;
  onProgress?: ((progress: UploadProgress) => void) | undefined;
};

/** The token the backend's antiforgery check reads; fetched per call like the API client does. */
async function antiforgery(): Promise<{ headerName: string; token: string } | null> {
  const response = await globalThis.fetch(
    new Request(new URL('/api/auth/antiforgery', globalThis.location.origin), { headers: { Accept: 'application/json' } }),
  );
  if (!response.ok) return null;
  const body = (await response.json()) as { headerName?: string; token?: string };
  return body.token ? { headerName: body.headerName ?? ANTIFORGERY_HEADER, token: body.token } : null;
}

/**
 * PUT /api/releases/{release}/base-backup (admin) as multipart/form-data. XMLHttpRequest rather than fetch: it reports
 * upload progress in every browser (fetch has no upload progress, and a streamed request body needs HTTP/2). The
 * backend answers once it has the whole file and has checked it, so the last step after 100 % is the check.
 */
export async function uploadBaseBackup({ release, file, password, backupPassword, onProgress }: UploadBaseBackupInput): Promise<BaseBackupStatus> {
  const path = `/api/releases/${encodeURIComponent(release)}/base-backup`;
  const csrf = await antiforgery();
  const form = new FormData();
  form.append('password', password);
  if (backupPassword) form.append('backupPassword', backupPassword);
  form.append('file', file, file.name);

  return new Promise<BaseBackupStatus>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', new URL(path, globalThis.location.origin).toString());
    xhr.setRequestHeader('Accept', 'application/json');
    if (csrf) xhr.setRequestHeader(csrf.headerName, csrf.token);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress?.({ loaded: event.loaded, total: event.total });
    };
    xhr.onload = () => {
      let body: unknown;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        body = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body !== undefined) {
        resolve(body as BaseBackupStatus);
        return;
      }
      const problem = isProblemDetails(body) ? body : undefined;
      reject(
        new ApiError({
          reason: 'http',
          status: xhr.status,
          method: 'PUT',
          url: path,
          problem,
          message: problem?.title ?? `The provisioner answered ${xhr.status} ${xhr.statusText}`.trim(),
        }),
      );
    };
    xhr.onerror = () =>
      reject(
        new ApiError({
          reason: 'network',
          status: 0,
          method: 'PUT',
          url: path,
          message: 'The upload was cut off: the provisioner could not be reached, or it closed the connection.',
        }),
      );
    xhr.send(form);
  });
}

/** The upload; on success the release's detail (which shows the stored backup) is fetched again. */
export function useUploadBaseBackup() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: uploadBaseBackup,
    onSuccess: (_status, input) => {
      void queryClient.invalidateQueries({ queryKey: releaseQueryKey(input.release) });
    },
  });
}
