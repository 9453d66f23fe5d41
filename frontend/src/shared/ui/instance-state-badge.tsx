import { instanceStateLabel, instanceStateTone } from '@/shared/lib/instances';
import { AlertTriangleIcon, CheckCircleIcon, StopCircleIcon, XCircleIcon } from './icons';
import { Spinner } from './spinner';
import { StatusBadge, type StatusTone } from './status-badge';

const TONE_ICONS: Record<StatusTone, typeof CheckCircleIcon> = {
  success: CheckCircleIcon,
  info: Spinner,
  neutral: StopCircleIcon,
  warning: AlertTriangleIcon,
  danger: XCircleIcon,
};

/** An instance's state as a badge: colour, icon and word ("Active", "Cloning", "Failed"). */
export function InstanceStateBadge({ state, tone, label }: { state: string; tone?: StatusTone; label?: string }) {
  const shownTone = tone ?? instanceStateTone(state);
  const Icon = TONE_ICONS[shownTone];
  return (
    <StatusBadge tone={shownTone} icon={<Icon />}>
      {label ?? instanceStateLabel(state)}
    </StatusBadge>
  );
}
