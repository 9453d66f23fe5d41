import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, unwrap, type TlsInfo } from '@/shared/api';

/** GET /api/tls: the certificate the orchestrator serves and its SHA-256 fingerprint. */
export function getTls({ signal }: { signal?: AbortSignal } = {}): Promise<TlsInfo> {
  return unwrap('GET', '/api/tls', apiClient.GET('/api/tls', { signal }));
}

export function useTls() {
  return useQuery(queryOptions({ queryKey: ['tls'], queryFn: ({ signal }) => getTls({ signal }) }));
}
