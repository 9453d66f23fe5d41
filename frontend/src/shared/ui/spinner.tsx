import type { SVGProps } from 'react';
import { SpinnerIcon } from './icons';
import styles from './spinner.module.css';

/** A turning arc for work in progress (still under reduced motion). Decorative: pair it with a word. */
export function Spinner({ className, ...props }: SVGProps<SVGSVGElement>) {
  return <SpinnerIcon className={[styles.spinner, className].filter(Boolean).join(' ')} {...props} />;
}
