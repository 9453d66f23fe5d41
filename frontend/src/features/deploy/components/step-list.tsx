import { CheckCircleIcon, CircleIcon, XCircleIcon } from '@/shared/ui/icons';
import { Spinner } from '@/shared/ui/spinner';
import { VisuallyHidden } from '@/shared/ui/visually-hidden';
import type { Step, StepStatus } from '../lib/steps';
import styles from './deploy.module.css';

const WORDS: Record<StepStatus, string> = { done: 'done', current: 'in progress', failed: 'failed', upcoming: 'to do' };

function StepIcon({ status }: { status: StepStatus }) {
  switch (status) {
    case 'done':
      return <CheckCircleIcon className={styles.stepIcon} />;
    case 'current':
      return <Spinner className={styles.stepIcon} />;
    case 'failed':
      return <XCircleIcon className={styles.stepIcon} />;
    case 'upcoming':
      return <CircleIcon className={styles.stepIcon} />;
  }
}

/** The steps of one guest's deploy: passed ones ticked, the current one turning, a failed one crossed. */
export function StepList({ steps, hostname }: { steps: Step[]; hostname: string }) {
  return (
    <ol className={styles.steps} aria-label={`Steps of ${hostname}`}>
      {steps.map((step) => (
        <li key={step.state} className={styles.step} data-status={step.status}>
          <StepIcon status={step.status} />
          <span>{step.label}</span>
          <VisuallyHidden>: {WORDS[step.status]}</VisuallyHidden>
        </li>
      ))}
    </ol>
  );
}
