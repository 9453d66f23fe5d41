import type { SiteCredential } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { CopyButton } from '@/shared/ui/copy-button';
import { DataTable, type Column } from '@/shared/ui/data-table';
import { RotateIcon } from '@/shared/ui/icons';
import { RelativeTime } from '@/shared/ui/relative-time';
import table from '@/shared/ui/table.module.css';
import { credentialName } from '../lib/credential-groups';
import styles from './credentials.module.css';

/** What the page knows and does for every row: revealed values, ticks for the sheet, and the row actions. */
export type CredentialTableState = {
  values: ReadonlyMap<string, string>;
  included: ReadonlySet<string>;
  setIncluded: (id: string, included: boolean) => void;
  reveal: (id: string) => void;
  hide: (id: string) => void;
  rotate: (credential: SiteCredential) => void;
};

const COLUMNS: readonly Column[] = [
  { header: 'On the sheet', hidden: true },
  { header: 'Secret and where it is used' },
  { header: 'User' },
  { header: 'Value' },
  { header: 'Stored' },
  { header: 'Actions', hidden: true },
];

function CredentialRow({
  credential,
  value,
  included,
  onInclude,
  onReveal,
  onHide,
  onRotate,
}: {
  credential: SiteCredential;
  value: string | undefined;
  included: boolean;
  onInclude: (included: boolean) => void;
  onReveal: () => void;
  onHide: () => void;
  onRotate: () => void;
}) {
  const name = credentialName(credential);
  return (
    <tr>
      <td>
        <input
          type="checkbox"
          checked={included}
          onChange={(e) => onInclude(e.target.checked)}
          aria-label={`Include the ${name} on the hand-over sheet`}
        />
      </td>
      <th scope="row" className={styles.what}>
        {credential.label}
        <span className={styles.usedBy}>{credential.usedBy}</span>
      </th>
      <td>{credential.username ? <code>{credential.username}</code> : <span className={styles.muted}>—</span>}</td>
      <td>
        {value !== undefined ? (
          <div className={styles.value}>
            <code className={styles.secret} aria-label={`Value of the ${name}`}>
              {value}
            </code>
            <CopyButton text={value} />
          </div>
        ) : (
          <span aria-label="hidden">••••••••</span>
        )}
      </td>
      <td>{credential.updatedAt ? <RelativeTime date={credential.updatedAt} /> : '—'}</td>
      <td className={table.actions}>
        {value !== undefined ? (
          <Button size="small" onClick={onHide}>
            Hide
          </Button>
        ) : (
          <Button size="small" onClick={onReveal} aria-label={`Reveal the ${name}`}>
            Reveal
          </Button>
        )}{' '}
        {credential.rotatable ? (
          <Button size="small" onClick={onRotate} aria-label={`Rotate the ${name}`}>
            <RotateIcon />
            Rotate
          </Button>
        ) : (
          <details className={styles.why}>
            <summary>Not rotatable</summary>
            <p>{credential.notRotatableReason}</p>
          </details>
        )}
      </td>
    </tr>
  );
}

/** One guest's secrets (or the whole site's), a row each: tick for the sheet, value, reveal/hide and rotate. */
export function CredentialTable({
  title,
  credentials,
  state,
}: {
  title: string;
  credentials: SiteCredential[];
  state: CredentialTableState;
}) {
  return (
    <DataTable
      className={styles.table}
      caption={`Secrets of ${title}`}
      empty={<p className={styles.muted}>No secrets of its own.</p>}
      columns={COLUMNS}
      rows={credentials}
      rowKey={(credential) => credential.id}
      renderRow={(credential) => (
        <CredentialRow
          credential={credential}
          value={state.values.get(credential.id)}
          included={state.included.has(credential.id)}
          onInclude={(on) => state.setIncluded(credential.id, on)}
          onReveal={() => state.reveal(credential.id)}
          onHide={() => state.hide(credential.id)}
          onRotate={() => state.rotate(credential)}
        />
      )}
    />
  );
}
