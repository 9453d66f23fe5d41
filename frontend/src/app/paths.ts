// Every route of the SPA, in one place.
export const paths = {
  // The start page is the dashboard.
  home: { path: '/', getHref: () => '/' },
  setup: { path: '/setup', getHref: () => '/setup' },
  signIn: {
    path: '/sign-in',
    getHref: (next?: string) => (next && next !== '/' ? `/sign-in?next=${encodeURIComponent(next)}` : '/sign-in'),
  },
  releases: { path: '/releases', getHref: () => '/releases' },
  settings: { path: '/settings', getHref: () => '/settings' },
  users: { path: '/users', getHref: () => '/users' },
  tokens: { path: '/tokens', getHref: () => '/tokens' },
  audit: { path: '/audit', getHref: () => '/audit' },
} as const;
