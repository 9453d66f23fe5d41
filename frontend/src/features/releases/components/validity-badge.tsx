import { StatusBadge } from '@/shared/ui/status-badge';
import { CheckCircleIcon, XCircleIcon } from '@/shared/ui/icons';

export function ValidityBadge({ valid }: { valid: boolean }) {
  return valid ? (
    <StatusBadge tone="success" icon={<CheckCircleIcon />}>
      Valid
    </StatusBadge>
  ) : (
    <StatusBadge tone="danger" icon={<XCircleIcon />}>
      Invalid
    </StatusBadge>
  );
}
