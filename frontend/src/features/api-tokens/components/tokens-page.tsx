import { useState, type FormEvent } from 'react';
import { fieldErrors, problemMessage, type ApiTokenSummary, type CreatedToken, type Role } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { CopyButton } from '@/shared/ui/copy-button';
import { EmptyState } from '@/shared/ui/empty-state';
import { QueryError } from '@/shared/ui/query-error';
import { Field, FormError, SelectField } from '@/shared/ui/field';
import form from '@/shared/ui/form.module.css';
import { StatusBadge, type StatusTone } from '@/shared/ui/status-badge';
import table from '@/shared/ui/table.module.css';
import { useCreateToken, useRevokeToken, useTokens } from '../api/tokens';
import { DataTable } from '@/shared/ui/data-table';

const expiries: { label: string; days: number | null }[] = [
  { label: 'Never', days: null },
  { label: '30 days', days: 30 },
  { label: '90 days', days: 90 },
  { label: '1 year', days: 365 },
];

function ShownOnce({ created, onDone }: { created: CreatedToken; onDone: () => void }) {
  return (
    <section className={`${form.card} ${form.section}`} aria-label="New API token">
      <h2>Copy the token now</h2>
      <p>
        This is the only time <strong>{created.summary.name}</strong> is shown. Only its hash is kept: if it gets lost, revoke
        it and create a new one. Send it as <code>Authorization: Bearer …</code>.
      </p>
      <p className={form.mono} data-testid="new-token">
        {created.token}
      </p>
      <div className={form.inline}>
        <CopyButton text={created.token} label="Copy token" />
        <Button onClick={onDone}>Done</Button>
      </div>
    </section>
  );
}

function CreateTokenForm({ onCreated }: { onCreated: (token: CreatedToken) => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [days, setDays] = useState<string>('90');
  const mutation = useCreateToken();
  const errors = fieldErrors(mutation.error);

  function submit(event: FormEvent) {
    event.preventDefault();
    const expiresAt = days === '' ? null : new Date(Date.now() + Number(days) * 86_400_000).toISOString();
    mutation.mutate(
      { name, role, expiresAt },
      {
        onSuccess: (created) => {
          setName('');
          onCreated(created);
        },
      },
    );
  }

  return (
    <form className={form.form} onSubmit={submit} noValidate aria-label="Create an API token">
      <div className={form.inline}>
        <Field
          label="Name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          hint="What uses it, e.g. “Platform sync”."
          errors={errors['name']}
        />
        <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
          <option value="viewer">viewer (read)</option>
          <option value="operator">operator (deploy, lifecycle, builds)</option>
          <option value="admin">admin (everything)</option>
        </SelectField>
        <SelectField label="Expires" value={days} onChange={(e) => setDays(e.target.value)}>
          {expiries.map((e) => (
            <option key={e.label} value={e.days ?? ''}>
              {e.label}
            </option>
          ))}
        </SelectField>
        <Button variant="primary" type="submit" disabled={mutation.isPending}>
          Create token
        </Button>
      </div>
      {errors['expiresAt'] ? <FormError>{errors['expiresAt'].join(' ')}</FormError> : null}
      {mutation.isError && Object.keys(errors).length === 0 ? <FormError>{problemMessage(mutation.error)}</FormError> : null}
    </form>
  );
}

const stateTone: Record<ApiTokenSummary['state'], StatusTone> = { active: 'success', expired: 'warning', revoked: 'neutral' };

function TokenRow({ token }: { token: ApiTokenSummary }) {
  const revoke = useRevokeToken();
  return (
    <tr>
      <td>{token.name}</td>
      <td className={form.mono}>{token.prefix}…</td>
      <td>{token.role}</td>
      <td>
        <StatusBadge tone={stateTone[token.state]}>{token.state}</StatusBadge>
      </td>
      <td>{token.expiresAt ? new Date(token.expiresAt).toLocaleDateString() : 'never'}</td>
      <td>{token.lastUsedAt ? new Date(token.lastUsedAt).toLocaleString() : 'never'}</td>
      <td className={table.actions}>
        {token.state === 'active' ? (
          <Button onClick={() => revoke.mutate(token.id)} disabled={revoke.isPending} aria-label={`Revoke ${token.name}`}>
            Revoke
          </Button>
        ) : null}
        {revoke.isError ? <FormError>{problemMessage(revoke.error)}</FormError> : null}
      </td>
    </tr>
  );
}

/** Admin: integrator API tokens — create (shown once), list, revoke. */
export function TokensPage() {
  const query = useTokens();
  const [created, setCreated] = useState<CreatedToken | null>(null);
  return (
    <>
      {created ? <ShownOnce created={created} onDone={() => setCreated(null)} /> : null}
      <section className={form.section}>
        <h2>Create a token</h2>
        <CreateTokenForm onCreated={setCreated} />
      </section>
      <section className={form.section}>
        <h2>Tokens</h2>
        {query.isPending ? (
          <p role="status">Loading…</p>
        ) : query.isError ? (
          <QueryError title="Could not load the API tokens" query={query} />
        ) : (
          <DataTable
            columns={[
              { header: 'Name' },
              { header: 'Token' },
              { header: 'Role' },
              { header: 'State' },
              { header: 'Expires' },
              { header: 'Last used' },
              { header: 'Actions', hidden: true },
            ]}
            rows={query.data}
            rowKey={(token) => token.id}
            renderRow={(token) => <TokenRow token={token} />}
            empty={
              <EmptyState title="No API tokens yet">
                <p>Create one above for each integration that scripts this provisioner.</p>
              </EmptyState>
            }
          />
        )}
      </section>
    </>
  );
}
