import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { currentUserQueryKey } from '@/features/auth';
import { ApiError } from '@/shared/api';
import { createQueryClient, queryConfig } from '@/shared/lib/react-query';

export function AppProvider({
  children,
  queryClient,
}: {
  children: ReactNode;
  queryClient?: QueryClient;
}) {
  const [client] = useState(() => {
    // A 401 on any query means the session ended (expired, signed out elsewhere, password changed):
    // re-ask who is signed in, and the route guard sends the user to the sign-in page.
    const created: QueryClient =
      queryClient ??
      createQueryClient(queryConfig, (error, queryKey) => {
        if (error instanceof ApiError && error.status === 401 && queryKey[0] !== currentUserQueryKey[0])
          void created.invalidateQueries({ queryKey: currentUserQueryKey });
      });
    return created;
  });
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}
