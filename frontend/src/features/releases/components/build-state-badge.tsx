import type { ReactNode } from 'react';
import type { BuildState, BuildTemplateState } from '@/shared/api';
import { CheckCircleIcon, ClockIcon, StopCircleIcon, XCircleIcon } from '@/shared/ui/icons';
import { Spinner } from '@/shared/ui/spinner';
import { StatusBadge, type StatusTone } from '@/shared/ui/status-badge';

type Badge = { tone: StatusTone; icon: ReactNode; label: string };

const running = { tone: 'info', icon: <Spinner /> } as const;
const succeeded = { tone: 'success', icon: <CheckCircleIcon /> } as const;
const failed = { tone: 'danger', icon: <XCircleIcon />, label: 'Failed' } as const;

const buildBadges: Record<BuildState, Badge> = {
  running: { ...running, label: 'Running' },
  succeeded: { ...succeeded, label: 'Succeeded' },
  failed,
};

const templateBadges: Record<BuildTemplateState, Badge> = {
  pending: { tone: 'neutral', icon: <ClockIcon />, label: 'Waiting' },
  running: { ...running, label: 'Building' },
  built: { ...succeeded, label: 'Built' },
  skipped: { tone: 'success', icon: <StopCircleIcon />, label: 'Already built' },
  failed,
};

function Shown({ badge }: { badge: Badge }) {
  return (
    <StatusBadge tone={badge.tone} icon={badge.icon}>
      {badge.label}
    </StatusBadge>
  );
}

/** A build: running (blue, spinner), succeeded (green), failed (red). */
export function BuildStateBadge({ state }: { state: BuildState }) {
  return <Shown badge={buildBadges[state]} />;
}

/** One template within a build. */
export function TemplateStateBadge({ state }: { state: BuildTemplateState }) {
  return <Shown badge={templateBadges[state]} />;
}
