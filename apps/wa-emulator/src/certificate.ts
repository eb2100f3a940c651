import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const WHATSAPP_WEB_HOST = 'web.whatsapp.com';

export interface EmulatorCertificate {
  key: string;
  cert: string;
  /** base64 sha256 of the certificate's SubjectPublicKeyInfo: Chromium's
   * `--ignore-certificate-errors-spki-list` trusts exactly this key and nothing else. */
  spki: string;
}

/**
 * A self-signed certificate for web.whatsapp.com, made at start with the openssl CLI (Node can
 * make keys but not certificates). A fresh key per start: nothing to store, nothing to leak.
 */
export function createCertificate(): EmulatorCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'wa-emulator-cert-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-nodes',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '30',
        '-subj',
        `/CN=${WHATSAPP_WEB_HOST}`,
        '-addext',
        `subjectAltName=DNS:${WHATSAPP_WEB_HOST}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const key = readFileSync(keyFile, 'utf8');
    const cert = readFileSync(certFile, 'utf8');
    return { key, cert, spki: spkiOf(cert) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function spkiOf(certPem: string): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}
