// Every route of the SPA, in one place.
export const paths = {
  // The start page is the dashboard.
  home: { path: '/', getHref: () => '/' },
  setup: { path: '/setup', getHref: () => '/setup' },
  signIn: {
    path: '/sign-in',
    getHref: (next?: string) => (next && next !== '/' ? `/sign-in?next=${encodeURIComponent(next)}` : '/sign-in'),
  },
  projects: { path: '/projects', getHref: () => '/projects' },
  newProject: { path: '/projects/new', getHref: () => '/projects/new' },
  project: { path: '/projects/:id', getHref: (id: number) => `/projects/${id}` },
  editProject: { path: '/projects/:id/edit', getHref: (id: number) => `/projects/${id}/edit` },
  projectCredentials: { path: '/projects/:id/credentials', getHref: (id: number) => `/projects/${id}/credentials` },
  deployProject: { path: '/projects/:id/deploy', getHref: (id: number) => `/projects/${id}/deploy` },
  deploy: { path: '/deploys/:id', getHref: (id: number) => `/deploys/${id}` },
  releases: { path: '/releases', getHref: () => '/releases' },
  settings: { path: '/settings', getHref: () => '/settings' },
  alerts: { path: '/settings/alerts', getHref: () => '/settings/alerts' },
  users: { path: '/users', getHref: () => '/users' },
  tokens: { path: '/tokens', getHref: () => '/tokens' },
  audit: { path: '/audit', getHref: () => '/audit' },
} as const;
