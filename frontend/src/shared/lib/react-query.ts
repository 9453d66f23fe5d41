import { QueryCache, QueryClient, type DefaultOptions } from '@tanstack/react-query';
import { ApiError } from '@/shared/api';

const MAX_RETRIES = 2;

export const queryConfig = {
  queries: {
    // Dealers work on flaky site networks: retry transient failures, never 4xx answers.
    retry: (failureCount, error) => {
      if (error instanceof ApiError && error.isClientError) return false;
      return failureCount < MAX_RETRIES;
    },
    refetchOnWindowFocus: false,
    staleTime: 30_000,
  },
} satisfies DefaultOptions;

/** `onError` sees every failed query and its key (the app uses it to notice an ended session). */
export function createQueryClient(
  options: DefaultOptions = queryConfig,
  onError?: (error: Error, queryKey: readonly unknown[]) => void,
): QueryClient {
  return new QueryClient({
    defaultOptions: options,
    ...(onError ? { queryCache: new QueryCache({ onError: (error, query) => onError(error, query.queryKey) }) } : {}),
  });
}

/**
 * Extra options a feature hook accepts from its caller: everything its query options set,
 * but the key and the fetcher. `T` is the feature's `get…QueryOptions` function.
 */
export type QueryConfig<T extends (...args: never[]) => unknown> = Partial<
  Omit<ReturnType<T>, 'queryKey' | 'queryFn'>
>;
