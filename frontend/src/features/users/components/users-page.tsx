import { useState, type FormEvent } from 'react';
import { fieldErrors, problemMessage, type Role, type UserSummary } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { QueryError } from '@/shared/ui/query-error';
import { Field, FormError, SelectField } from '@/shared/ui/field';
import form from '@/shared/ui/form.module.css';
import { StatusBadge } from '@/shared/ui/status-badge';
import table from '@/shared/ui/table.module.css';
import { useCreateUser, useUpdateUser, useUsers } from '../api/users';
import { DataTable } from '@/shared/ui/data-table';

const roles: Role[] = ['viewer', 'operator', 'admin'];

function CreateUserForm() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('operator');
  const mutation = useCreateUser();
  const errors = fieldErrors(mutation.error);

  function submit(event: FormEvent) {
    event.preventDefault();
    mutation.mutate(
      { username, password, role },
      {
        onSuccess: () => {
          setUsername('');
          setPassword('');
        },
      },
    );
  }

  return (
    <form className={form.form} onSubmit={submit} noValidate aria-label="Add a user">
      <div className={form.inline}>
        <Field label="User name" value={username} onChange={(e) => setUsername(e.target.value)} errors={errors['username']} />
        <Field
          label="Password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          errors={errors['password']}
        />
        <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </SelectField>
        <Button variant="primary" type="submit" disabled={mutation.isPending}>
          Add user
        </Button>
      </div>
      {mutation.isError && Object.keys(errors).length === 0 ? <FormError>{problemMessage(mutation.error)}</FormError> : null}
    </form>
  );
}

function UserRow({ user }: { user: UserSummary }) {
  const update = useUpdateUser();
  const state = user.disabled ? (
    <StatusBadge tone="neutral">Disabled</StatusBadge>
  ) : user.locked ? (
    <StatusBadge tone="warning">Locked</StatusBadge>
  ) : (
    <StatusBadge tone="success">Active</StatusBadge>
  );
  return (
    <tr>
      <td>{user.username}</td>
      <td>
        <select
          aria-label={`Role of ${user.username}`}
          className={form.input}
          value={user.role}
          disabled={update.isPending}
          onChange={(e) => update.mutate({ id: user.id, role: e.target.value as Role, disabled: user.disabled })}
        >
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </td>
      <td>{state}</td>
      <td>{user.lastSignInAt ? new Date(user.lastSignInAt).toLocaleString() : 'never'}</td>
      <td className={table.actions}>
        {user.locked && !user.disabled ? (
          <Button onClick={() => update.mutate({ id: user.id, role: user.role, disabled: false })}>Unlock</Button>
        ) : null}{' '}
        <Button onClick={() => update.mutate({ id: user.id, role: user.role, disabled: !user.disabled })} disabled={update.isPending}>
          {user.disabled ? 'Enable' : 'Disable'}
        </Button>
        {update.isError ? <FormError>{problemMessage(update.error)}</FormError> : null}
      </td>
    </tr>
  );
}

/** Admin: every dealer account, role changes, disable/enable, unlock, add. */
export function UsersPage() {
  const query = useUsers();
  return (
    <>
      <section className={form.section}>
        <h2>Add a user</h2>
        <CreateUserForm />
      </section>
      <section className={form.section}>
        <h2>Accounts</h2>
        {query.isPending ? (
          <p role="status">Loading…</p>
        ) : query.isError ? (
          <QueryError title="Could not load the users" query={query} />
        ) : (
          <DataTable
            columns={[{ header: 'User' }, { header: 'Role' }, { header: 'State' }, { header: 'Last sign-in' }, { header: 'Actions', hidden: true }]}
            rows={query.data}
            rowKey={(user) => user.id}
            renderRow={(user) => <UserRow user={user} />}
          />
        )}
      </section>
    </>
  );
}
