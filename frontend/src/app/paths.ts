// Every route of the SPA, in one place.
export const paths = {
  home: { path: '/', getHref: () => '/' },
  releases: { path: '/releases', getHref: () => '/releases' },
} as const;
