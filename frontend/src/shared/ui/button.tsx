import type { ButtonHTMLAttributes } from 'react';
import styles from './button.module.css';

type Variant = 'primary' | 'secondary' | 'danger';
type Size = 'normal' | 'small';

/** The button look, for links that act as buttons ("Deploy", "Open"). */
export function buttonClass(variant: Variant = 'secondary', size: Size = 'normal', className?: string): string {
  return [styles.button, styles[variant], size === 'small' ? styles.small : null, className].filter(Boolean).join(' ');
}

export function Button({
  variant = 'secondary',
  size = 'normal',
  className,
  type = 'button',
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; size?: Size }) {
  return <button type={type} className={buttonClass(variant, size, className)} {...props} />;
}
