import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, queryKeys, unwrap, type ProxmoxSettingsView, type SaveProxmoxSettingsRequest } from '@/shared/api';

const proxmoxSettingsKey = ['settings', 'proxmox'] as const;

/** GET /api/settings/proxmox: the host and token in use and where they come from (admin; never the secret). */
export function getProxmoxSettings({ signal }: { signal?: AbortSignal } = {}): Promise<ProxmoxSettingsView> {
  return unwrap('GET', '/api/settings/proxmox', apiClient.GET('/api/settings/proxmox', { signal }));
}

export function getProxmoxSettingsQueryOptions() {
  return queryOptions({ queryKey: proxmoxSettingsKey, queryFn: ({ signal }) => getProxmoxSettings({ signal }) });
}

export function useProxmoxSettings() {
  return useQuery(getProxmoxSettingsQueryOptions());
}

/** PUT /api/settings/proxmox: tried against the host first; 422 with the reason when the host refuses. */
export function saveProxmoxSettings(body: SaveProxmoxSettingsRequest): Promise<ProxmoxSettingsView> {
  return unwrap('PUT', '/api/settings/proxmox', apiClient.PUT('/api/settings/proxmox', { body }));
}

export function useSaveProxmoxSettings() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: saveProxmoxSettings,
    onSuccess: (view) => {
      queryClient.setQueryData(proxmoxSettingsKey, view);
      // Everything read from Proxmox now comes from another host.
      void queryClient.invalidateQueries({ queryKey: queryKeys.dashboard });
    },
  });
}
