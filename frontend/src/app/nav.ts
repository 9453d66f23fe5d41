import type { ComponentType, SVGProps } from 'react';
import { PackageIcon } from '@/shared/ui/icons';
import { paths } from './paths';

export type NavItem = {
  label: string;
  to: string;
  icon: ComponentType<SVGProps<SVGSVGElement>>;
};

// The left navigation: one line per page. Only pages that exist are listed.
export const navItems: readonly NavItem[] = [
  { label: 'Releases', to: paths.releases.getHref(), icon: PackageIcon },
];
