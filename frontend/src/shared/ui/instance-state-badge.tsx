import { instanceStateLabel, instanceStateTone } from '@/shared/lib/instances';
import { StatusBadge, type StatusTone } from './status-badge';
import { ToneIcon } from './tone-icon';

/** An instance's state as a badge: colour, icon and word ("Active", "Cloning", "Failed"). */
export function InstanceStateBadge({ state, tone, label }: { state: string; tone?: StatusTone; label?: string }) {
  const shownTone = tone ?? instanceStateTone(state);
  return (
    <StatusBadge tone={shownTone} icon={<ToneIcon tone={shownTone} />}>
      {label ?? instanceStateLabel(state)}
    </StatusBadge>
  );
}
