import { useState, type FormEvent } from 'react';
import { fieldErrors, problemMessage } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { Field, FormError } from '@/shared/ui/field';
import styles from '@/shared/ui/form.module.css';
import { useChangePassword } from '../api/session';

export function ChangePasswordForm() {
  const [currentPassword, setCurrent] = useState('');
  const [newPassword, setNew] = useState('');
  const mutation = useChangePassword();
  const errors = fieldErrors(mutation.error);

  function submit(event: FormEvent) {
    event.preventDefault();
    mutation.mutate(
      { currentPassword, newPassword },
      {
        onSuccess: () => {
          setCurrent('');
          setNew('');
        },
      },
    );
  }

  return (
    <form className={styles.form} onSubmit={submit} noValidate>
      <Field
        label="Current password"
        type="password"
        autoComplete="current-password"
        value={currentPassword}
        onChange={(e) => setCurrent(e.target.value)}
        errors={errors['currentPassword']}
        required
      />
      <Field
        label="New password"
        type="password"
        autoComplete="new-password"
        value={newPassword}
        onChange={(e) => setNew(e.target.value)}
        hint="At least 12 characters. Your other sessions are signed out."
        errors={errors['newPassword']}
        required
      />
      {mutation.isError && Object.keys(errors).length === 0 ? <FormError>{problemMessage(mutation.error)}</FormError> : null}
      {mutation.isSuccess ? (
        <p className={styles.notice} role="status">
          Password changed.
        </p>
      ) : null}
      <Button variant="primary" type="submit" disabled={mutation.isPending}>
        {mutation.isPending ? 'Changing…' : 'Change password'}
      </Button>
    </form>
  );
}
