import { useState, type FormEvent } from 'react';
import { ApiError, fieldErrors, problemCode, problemMessage, type CurrentUser } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { Field, FormError } from '@/shared/ui/field';
import styles from '@/shared/ui/form.module.css';
import { useCreateFirstAdmin } from '../api/setup';

/** First run: create the admin account, with the one-time set-up code from the orchestrator's machine. */
export function SetupForm({ onDone }: { onDone: (user: CurrentUser) => void }) {
  const [setupCode, setSetupCode] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const mutation = useCreateFirstAdmin({ onSuccess: onDone });
  const errors = fieldErrors(mutation.error);
  // A missing or wrong code is a 403 problem, shown at its field.
  const codeRefused = problemCode(mutation.error) === 'setup-code';

  function submit(event: FormEvent) {
    event.preventDefault();
    setMismatch(password !== confirm);
    if (password !== confirm) return;
    mutation.mutate({ setupCode: setupCode.trim(), username, password });
  }

  return (
    <form className={styles.form} onSubmit={submit} noValidate>
      <Field
        label="Set-up code"
        autoComplete="off"
        spellCheck={false}
        value={setupCode}
        onChange={(e) => setSetupCode(e.target.value)}
        placeholder="XXXXX-XXXXX-XXXXX-XXXXX"
        hint="Printed by install.sh, or in <data>/setup-code on the orchestrator (/var/lib/ctrlable-provisioner/setup-code when installed; demo mode prints it on its console)."
        errors={codeRefused ? ['This is not the set-up code. Copy it from install.sh’s output or the setup-code file.'] : undefined}
        className={`${styles.input} ${styles.mono}`}
        required
      />
      <Field
        label="User name"
        autoComplete="username"
        value={username}
        onChange={(e) => setUsername(e.target.value)}
        hint="Lower-case letters, digits, '.', '_' or '-'."
        errors={errors['username']}
        required
      />
      <Field
        label="Password"
        type="password"
        autoComplete="new-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        hint="At least 12 characters; not containing the user name."
        errors={errors['password']}
        required
      />
      <Field
        label="Repeat the password"
        type="password"
        autoComplete="new-password"
        value={confirm}
        onChange={(e) => setConfirm(e.target.value)}
        errors={mismatch ? ['The two passwords differ.'] : undefined}
        required
      />
      {mutation.isError && Object.keys(errors).length === 0 && !codeRefused ? (
        <FormError>
          {mutation.error instanceof ApiError && mutation.error.status === 409
            ? 'An admin account exists already. Sign in instead.'
            : problemMessage(mutation.error)}
        </FormError>
      ) : null}
      <Button variant="primary" type="submit" disabled={mutation.isPending}>
        {mutation.isPending ? 'Creating…' : 'Create admin account'}
      </Button>
    </form>
  );
}
