// Query keys of API resources that more than one feature reads, so that every page showing a
// resource shares one cache entry and one invalidation (features cannot import each other).
export const queryKeys = {
  /** GET /api/dashboard (the dashboard feature's own key is the same). */
  dashboard: ['dashboard'] as const,
  /** GET /api/projects */
  projects: ['projects'] as const,
  /** GET /api/projects/{id} */
  project: (id: number) => ['projects', id] as const,
  /** GET /api/deploys/{id} */
  deploy: (id: number) => ['deploys', id] as const,
  /** GET /api/releases/{release} */
  release: (name: string) => ['releases', name] as const,
};
