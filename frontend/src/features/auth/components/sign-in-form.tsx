import { useState, type FormEvent } from 'react';
import { problemCode, problemMessage, type CurrentUser } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { Field, FormError } from '@/shared/ui/field';
import styles from '@/shared/ui/form.module.css';
import { useSignIn } from '../api/session';

// A refused sign-in is one answer whatever the reason (unknown account, wrong password, locked): the server's words.
function explain(error: unknown): string {
  return problemCode(error) === 'wrong-credentials' ? problemMessage(error) : `Could not sign in: ${problemMessage(error)}`;
}

export function SignInForm({ onSignedIn }: { onSignedIn: (user: CurrentUser) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const mutation = useSignIn({ onSuccess: onSignedIn });

  function submit(event: FormEvent) {
    event.preventDefault();
    mutation.mutate({ username, password });
  }

  return (
    <form className={styles.form} onSubmit={submit}>
      <Field label="User name" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
      <Field
        label="Password"
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        required
      />
      {mutation.isError ? <FormError>{explain(mutation.error)}</FormError> : null}
      <Button variant="primary" type="submit" disabled={mutation.isPending}>
        {mutation.isPending ? 'Signing in…' : 'Sign in'}
      </Button>
    </form>
  );
}
