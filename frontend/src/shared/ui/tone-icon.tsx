import type { ComponentType, SVGProps } from 'react';
import { AlertTriangleIcon, CheckCircleIcon, StopCircleIcon, XCircleIcon } from './icons';
import { Spinner } from './spinner';
import type { StatusTone } from './status-badge';

/** The one icon of each status tone, so a colour always comes with the same shape. */
export const TONE_ICONS: Record<StatusTone, ComponentType<SVGProps<SVGSVGElement>>> = {
  success: CheckCircleIcon,
  info: Spinner,
  neutral: StopCircleIcon,
  warning: AlertTriangleIcon,
  danger: XCircleIcon,
};

/** The icon of a status tone (decorative: it sits beside the word that says the status). */
export function ToneIcon({ tone, ...props }: { tone: StatusTone } & SVGProps<SVGSVGElement>) {
  const Icon = TONE_ICONS[tone];
  return <Icon data-tone-icon={tone} {...props} />;
}
