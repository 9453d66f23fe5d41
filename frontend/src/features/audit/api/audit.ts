import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, unwrap, type AuditPage } from '@/shared/api';

export const PAGE_SIZE = 50;

/** GET /api/audit (admin): newest first. */
export function getAuditPage(page: number, { signal }: { signal?: AbortSignal } = {}): Promise<AuditPage> {
  return unwrap(
    'GET',
    `/api/audit?page=${page}`,
    apiClient.GET('/api/audit', { params: { query: { page, pageSize: PAGE_SIZE } }, signal }),
  );
}

export function useAuditPage(page: number) {
  return useQuery({
    ...queryOptions({ queryKey: ['audit', { page }], queryFn: ({ signal }) => getAuditPage(page, { signal }) }),
    placeholderData: keepPreviousData,
  });
}
