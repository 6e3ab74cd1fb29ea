/**
 * Certificates and keys named by settings, read and checked at start: a CA file that holds no
 * certificate, a key that does not match its certificate or a wrong passphrase is a configuration
 * problem naming the variable (exit 2), not a TLS failure minutes later while streaming.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** PEM text for a TLS client or server; what Node's tls options take. */
export interface TlsMaterial {
  /** CA certificates to trust instead of Node's bundled public CAs. */
  ca?: string[];
  cert?: string;
  key?: string;
  passphrase?: string;
}

/** A setting: its variable name (for problems) and its value. */
export interface Setting {
  variable: string;
  value: string;
}

export interface TlsFileSettings {
  /** CA file, or `system` when allowSystemCa (Node's bundled CAs). */
  ca?: Setting;
  cert?: Setting;
  key?: Setting;
  passphrase?: Setting;
}

const set = (setting: Setting | undefined): setting is Setting => setting !== undefined && setting.value !== '';

function readFile(setting: Setting, problems: string[]): string | undefined {
  try {
    return readFileSync(setting.value, 'utf8');
  } catch (error) {
    problems.push(`${setting.variable}: cannot read ${setting.value} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    return undefined;
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificates(setting: Setting, text: string, problems: string[]): string[] | undefined {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    problems.push(`${setting.variable}: ${setting.value} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    return undefined;
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      problems.push(`${setting.variable}: ${setting.value} holds a certificate that does not parse (${(error as Error).message})`);
      return undefined;
    }
  }
  return blocks;
}

function privateKey(key: Setting, text: string, passphrase: Setting | undefined, problems: string[]): KeyObject | undefined {
  const passphraseVariable = passphrase?.variable ?? 'its passphrase';
  // OpenSSL reports a missing passphrase as "interrupted or cancelled": recognise the PEM instead.
  if (!set(passphrase) && /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    problems.push(`${key.variable}: ${key.value} is encrypted: set ${passphraseVariable}`);
    return undefined;
  }
  try {
    return createPrivateKey(set(passphrase) ? { key: text, passphrase: passphrase.value } : { key: text });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MISSING_PASSPHRASE') {
      problems.push(`${key.variable}: ${key.value} is encrypted: set ${passphraseVariable}`);
    } else if (set(passphrase) && /bad decrypt|decrypt/i.test((error as Error).message)) {
      problems.push(`${passphrase.variable} does not decrypt ${key.variable} (${key.value}): wrong passphrase`);
    } else {
      problems.push(`${key.variable}: ${key.value} holds no usable private key (${(error as Error).message})`);
    }
    return undefined;
  }
}

/** Reads and checks the files; problems go to `problems`, and the material is returned only when whole. */
export function readTlsFiles(settings: TlsFileSettings, problems: string[], options: { allowSystemCa?: boolean } = {}): TlsMaterial | undefined {
  const before = problems.length;
  const out: TlsMaterial = {};
  const { ca, cert, key, passphrase } = settings;
  if (set(ca) && !(options.allowSystemCa && ca.value === 'system')) {
    const text = readFile(ca, problems);
    const blocks = text === undefined ? undefined : certificates(ca, text, problems);
    if (blocks) out.ca = blocks;
  }
  if (set(cert) !== set(key)) {
    const [given, missing] = set(cert) ? [cert, key] : [key, cert];
    problems.push(`${given?.variable} is set but ${missing?.variable ?? 'its pair'} is not: a certificate needs both the certificate and its key`);
  } else if (set(cert) && set(key)) {
    const certText = readFile(cert, problems);
    const keyText = readFile(key, problems);
    const certBlocks = certText === undefined ? undefined : certificates(cert, certText, problems);
    const keyObject = keyText === undefined ? undefined : privateKey(key, keyText, passphrase, problems);
    if (certBlocks && keyObject && !new X509Certificate(certBlocks[0]!).checkPrivateKey(keyObject)) {
      problems.push(`${key.variable} (${key.value}) is not the private key of the certificate in ${cert.variable} (${cert.value})`);
    }
    if (certText !== undefined && keyText !== undefined) {
      out.cert = certText;
      out.key = keyText;
      if (set(passphrase)) out.passphrase = passphrase.value;
    }
  }
  if (set(passphrase) && !set(key)) problems.push(`${passphrase.variable} is set but no key file is: it is the passphrase of an encrypted key`);
  return problems.length > before ? undefined : out;
}
