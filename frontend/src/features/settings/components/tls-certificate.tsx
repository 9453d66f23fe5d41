import { CopyButton } from '@/shared/ui/copy-button';
import { QueryError } from '@/shared/ui/query-error';
import { FactsList } from '@/shared/ui/facts-list';
import form from '@/shared/ui/form.module.css';
import { useTls } from '../api/tls';

/** The TLS certificate's SHA-256 fingerprint, to compare with what a browser shows and to pin. */
export function TlsCertificate() {
  const query = useTls();
  if (query.isPending) return <p role="status">Loading…</p>;
  if (query.isError)
    return <QueryError title="Could not load the certificate" query={query} />;
  const tls = query.data;
  return (
    <FactsList
      layout="stack"
      facts={[
        {
          term: 'SHA-256 fingerprint',
          value: (
            <>
              <span className={form.mono} data-testid="tls-fingerprint">
                {tls.sha256Fingerprint}
              </span>{' '}
              <CopyButton text={tls.sha256Fingerprint} label="Copy fingerprint" />
            </>
          ),
        },
        {
          term: 'Certificate',
          value: `${tls.subject} — ${tls.source === 'generated' ? 'generated on first start' : 'provided by the admin'}, valid until ${new Date(tls.notAfter).toLocaleDateString()}`,
        },
        { term: 'Names', value: tls.names.join(', ') },
        {
          term: 'HTTPS',
          value: tls.httpsUrls.length > 0 ? tls.httpsUrls.join(', ') : 'Not listening on HTTPS (HTTP on this machine only).',
        },
      ]}
    />
  );
}
