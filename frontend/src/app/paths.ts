// Every route of the SPA, in one place.
export const paths = {
  // The start page is the dashboard.
  home: { path: '/', getHref: () => '/' },
  releases: { path: '/releases', getHref: () => '/releases' },
} as const;
