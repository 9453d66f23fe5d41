import type { BuildState, BuildTemplateState } from '@/shared/api';
import { CheckCircleIcon, ClockIcon, StopCircleIcon, XCircleIcon } from '@/shared/ui/icons';
import { Spinner } from '@/shared/ui/spinner';
import { StatusBadge } from '@/shared/ui/status-badge';

/** A build: running (blue, spinner), succeeded (green), failed (red). */
export function BuildStateBadge({ state }: { state: BuildState }) {
  switch (state) {
    case 'running':
      return (
        <StatusBadge tone="info" icon={<Spinner />}>
          Running
        </StatusBadge>
      );
    case 'succeeded':
      return (
        <StatusBadge tone="success" icon={<CheckCircleIcon />}>
          Succeeded
        </StatusBadge>
      );
    case 'failed':
      return (
        <StatusBadge tone="danger" icon={<XCircleIcon />}>
          Failed
        </StatusBadge>
      );
  }
}

/** One template within a build. */
export function TemplateStateBadge({ state }: { state: BuildTemplateState }) {
  switch (state) {
    case 'pending':
      return (
        <StatusBadge tone="neutral" icon={<ClockIcon />}>
          Waiting
        </StatusBadge>
      );
    case 'running':
      return (
        <StatusBadge tone="info" icon={<Spinner />}>
          Building
        </StatusBadge>
      );
    case 'built':
      return (
        <StatusBadge tone="success" icon={<CheckCircleIcon />}>
          Built
        </StatusBadge>
      );
    case 'skipped':
      return (
        <StatusBadge tone="success" icon={<StopCircleIcon />}>
          Already built
        </StatusBadge>
      );
    case 'failed':
      return (
        <StatusBadge tone="danger" icon={<XCircleIcon />}>
          Failed
        </StatusBadge>
      );
  }
}
