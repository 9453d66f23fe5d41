import type { ReactNode } from 'react';
import { explainFailure } from '@/shared/api';
import { ErrorState } from './error-state';

/** The parts of a TanStack query (or several) that a failed-load panel needs. */
export type FailedQuery = {
  error: unknown;
  refetch: () => unknown;
  isFetching: boolean;
};

/**
 * A query that could not load: the title, what happened in the user's words (`children`, else a
 * sentence chosen by how the call failed), the technical line behind "Details", and "Try again".
 */
export function QueryError({ title, query, children }: { title: string; query: FailedQuery; children?: ReactNode }) {
  const { message, details } = explainFailure(query.error);
  return (
    <ErrorState title={title} details={details} onRetry={() => void query.refetch()} retrying={query.isFetching}>
      {children ?? <p>{message}</p>}
    </ErrorState>
  );
}
