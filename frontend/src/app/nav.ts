import type { ComponentType, SVGProps } from 'react';
import { DashboardIcon, PackageIcon } from '@/shared/ui/icons';
import { paths } from './paths';

export type NavItem = {
  label: string;
  to: string;
  icon: ComponentType<SVGProps<SVGSVGElement>>;
};

// The left navigation: one line per page. Only pages that exist are listed.
export const navItems: readonly NavItem[] = [
  { label: 'Dashboard', to: paths.home.getHref(), icon: DashboardIcon },
  { label: 'Releases', to: paths.releases.getHref(), icon: PackageIcon },
];
