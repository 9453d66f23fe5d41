import { useId, useState, type FormEvent } from 'react';
import { fieldErrors, problemMessage, type AlertTargetRequest, type AlertTargetView } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { Field, FormError, SelectField } from '@/shared/ui/field';
import form from '@/shared/ui/form.module.css';
import { useSaveAlertTarget } from '../api/alerts';

type Kind = 'webhook' | 'ntfy' | 'smtp';

type Draft = {
  name: string;
  kind: Kind;
  enabled: boolean;
  url: string;
  headerName: string;
  server: string;
  topic: string;
  host: string;
  port: string;
  username: string;
  from: string;
  to: string;
  caCertificatePem: string;
  signingSecret: string;
  headerValue: string;
  token: string;
  password: string;
};

function draftOf(target?: AlertTargetView): Draft {
  return {
    name: target?.name ?? '',
    kind: (target?.kind as Kind | undefined) ?? 'webhook',
    enabled: target?.enabled ?? true,
    url: target?.webhook?.url ?? '',
    headerName: target?.webhook?.headerName ?? '',
    server: target?.ntfy?.server ?? 'https://ntfy.sh',
    topic: target?.ntfy?.topic ?? '',
    host: target?.smtp?.host ?? '',
    port: String(target?.smtp?.port ?? 587),
    username: target?.smtp?.username ?? '',
    from: target?.smtp?.from ?? '',
    to: target?.smtp?.to.join(', ') ?? '',
    caCertificatePem: target?.smtp?.caCertificatePem ?? '',
    signingSecret: '',
    headerValue: '',
    token: '',
    password: '',
  };
}

/** Secrets: an empty field keeps the stored one (sent as absent); a new value replaces it. */
const secret = (value: string) => (value === '' ? null : value);

export function requestOf(draft: Draft): AlertTargetRequest {
  const base = { name: draft.name.trim(), kind: draft.kind, enabled: draft.enabled };
  switch (draft.kind) {
    case 'webhook':
      return {
        ...base,
        webhook: { url: draft.url.trim(), headerName: draft.headerName.trim() || null },
        secrets: { signingSecret: secret(draft.signingSecret), headerValue: secret(draft.headerValue) },
      };
    case 'ntfy':
      return { ...base, ntfy: { server: draft.server.trim(), topic: draft.topic.trim() }, secrets: { token: secret(draft.token) } };
    case 'smtp':
      return {
        ...base,
        smtp: {
          host: draft.host.trim(),
          port: Number(draft.port),
          username: draft.username.trim() || null,
          from: draft.from.trim(),
          to: draft.to.split(/[,;\s]+/).filter(Boolean),
          caCertificatePem: draft.caCertificatePem.trim() || null,
        },
        secrets: { password: secret(draft.password) },
      };
  }
}

/** Add or edit a notification target; every field error the API names is shown next to its field. */
export function AlertTargetForm({ target, onDone }: { target?: AlertTargetView; onDone: () => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(target));
  const save = useSaveAlertTarget();
  const errors = fieldErrors(save.error);
  const caId = useId();
  const set = (key: keyof Draft) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [key]: e.target.value }));
  const stored = target?.secretsStored;
  const secretHint = (isStored: boolean | undefined) =>
    isStored ? 'Stored (never shown). Leave empty to keep it; it must be entered again when the destination changes.' : undefined;

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate({ id: target?.id, body: requestOf(draft) }, { onSuccess: onDone });
  }

  const listed = new Set(Object.keys(errors));
  const known = [
    'Name', 'Kind', 'Webhook', 'Webhook.Url', 'Webhook.HeaderName', 'Ntfy', 'Ntfy.Server', 'Ntfy.Topic', 'Smtp', 'Smtp.Host', 'Smtp.Port',
    'Smtp.From', 'Smtp.To', 'Smtp.Username', 'Smtp.CaCertificatePem', 'Secrets.SigningSecret', 'Secrets.HeaderValue', 'Secrets.Token', 'Secrets.Password',
  ];
  const other = [...listed].filter((k) => !known.includes(k) && !k.startsWith('Smtp.To['));

  return (
    <form className={form.form} onSubmit={submit} noValidate aria-label={target ? `Edit ${target.name}` : 'New notification target'}>
      <Field label="Name" value={draft.name} onChange={set('name')} errors={errors['name']} required />
      <SelectField label="Kind" value={draft.kind} onChange={set('kind')} errors={errors['kind']}>
        <option value="webhook">Webhook (JSON POST)</option>
        <option value="ntfy">ntfy</option>
        <option value="smtp">E-mail (SMTP with STARTTLS)</option>
      </SelectField>
      {draft.kind === 'webhook' ? (
        <>
          <Field label="URL" value={draft.url} onChange={set('url')} errors={errors['webhook.url'] ?? errors['webhook']} placeholder="https://…" />
          <Field
            label="Signing secret"
            type="password"
            autoComplete="new-password"
            value={draft.signingSecret}
            onChange={set('signingSecret')}
            errors={errors['secrets.signingSecret']}
            hint={secretHint(stored?.signingSecret) ?? 'Optional: each request then carries X-Ctrlable-Signature: sha256=<HMAC-SHA256 of the body>.'}
          />
          <Field label="Extra header name" value={draft.headerName} onChange={set('headerName')} errors={errors['webhook.headerName']} hint="Optional, e.g. Authorization." />
          <Field
            label="Extra header value"
            type="password"
            autoComplete="new-password"
            value={draft.headerValue}
            onChange={set('headerValue')}
            errors={errors['secrets.headerValue']}
            hint={secretHint(stored?.headerValue)}
          />
        </>
      ) : null}
      {draft.kind === 'ntfy' ? (
        <>
          <Field label="Server" value={draft.server} onChange={set('server')} errors={errors['ntfy.server'] ?? errors['ntfy']} />
          <Field label="Topic" value={draft.topic} onChange={set('topic')} errors={errors['ntfy.topic']} />
          <Field
            label="Access token"
            type="password"
            autoComplete="new-password"
            value={draft.token}
            onChange={set('token')}
            errors={errors['secrets.token']}
            hint={secretHint(stored?.token) ?? 'Optional: for a protected topic (sent as Authorization: Bearer).'}
          />
        </>
      ) : null}
      {draft.kind === 'smtp' ? (
        <>
          <Field label="SMTP server" value={draft.host} onChange={set('host')} errors={errors['smtp.host'] ?? errors['smtp']} />
          <Field label="Port" inputMode="numeric" value={draft.port} onChange={set('port')} errors={errors['smtp.port']} />
          <Field label="User name" value={draft.username} onChange={set('username')} errors={errors['smtp.username']} />
          <Field
            label="Password"
            type="password"
            autoComplete="new-password"
            value={draft.password}
            onChange={set('password')}
            errors={errors['secrets.password']}
            hint={secretHint(stored?.password)}
          />
          <Field label="From" value={draft.from} onChange={set('from')} errors={errors['smtp.from']} />
          <Field
            label="To"
            value={draft.to}
            onChange={set('to')}
            errors={errors['smtp.to'] ?? Object.entries(errors).find(([k]) => k.startsWith('Smtp.To['))?.[1]}
            hint="One or more addresses, separated by commas."
          />
          <div className={form.field}>
            <label className={form.label} htmlFor={caId}>
              Private CA certificate (PEM)
            </label>
            <textarea id={caId} className={form.input} rows={4} value={draft.caCertificatePem} onChange={set('caCertificatePem')} spellCheck={false} />
            <p className={form.hint}>Only for a mail server whose certificate comes from your own CA. The connection is always encrypted and checked.</p>
            {errors['smtp.caCertificatePem'] ? <p className={form.error}>{errors['smtp.caCertificatePem'].join(' ')}</p> : null}
          </div>
        </>
      ) : null}
      <label className={form.inline}>
        <input type="checkbox" checked={draft.enabled} onChange={(e) => setDraft((d) => ({ ...d, enabled: e.target.checked }))} /> Enabled
      </label>
      {save.isError && (Object.keys(errors).length === 0 || other.length > 0) ? <FormError>{problemMessage(save.error)}</FormError> : null}
      <div className={form.inline}>
        <Button variant="primary" type="submit" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : target ? 'Save' : 'Add target'}
        </Button>
        <Button onClick={onDone}>Cancel</Button>
      </div>
    </form>
  );
}
