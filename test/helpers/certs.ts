// Throwaway certificates for unit tests, made with openssl (as scripts/services.sh makes the local
// services' own): a CA, a server certificate for 127.0.0.1/localhost, a client certificate with
// an encrypted key, and a key that belongs to neither. EC keys: a few milliseconds each.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  /** Encrypted with `clientKeyPassphrase`. */
  clientKey: string;
  clientKeyPassphrase: string;
  /** A private key of no certificate here. */
  otherKey: string;
  remove(): void;
}

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'walcast-certs-'));
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string): void => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name);
  const sign = (name: string, extensions: string): void => {
    writeFileSync(path(`${name}.ext`), extensions);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  const passphrase = 'client-key-passphrase-5e0c';
  key('ca.key');
  openssl('req', '-x509', '-new', '-key', 'ca.key', '-days', '2', '-subj', '/CN=walcast unit test CA', '-out', 'ca.crt');
  key('server.key');
  openssl('req', '-new', '-key', 'server.key', '-subj', '/CN=localhost', '-out', 'server.csr');
  sign('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  key('client.plain.key');
  openssl('req', '-new', '-key', 'client.plain.key', '-subj', '/CN=walcast', '-out', 'client.csr');
  sign('client', 'extendedKeyUsage=clientAuth\n');
  openssl('pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', 'client.plain.key', '-passout', `pass:${passphrase}`, '-out', 'client.key');
  key('other.key');
  return {
    dir,
    caCert: path('ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
    clientKeyPassphrase: passphrase,
    otherKey: path('other.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
