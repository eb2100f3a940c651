import { randomBytes } from 'node:crypto';

/**
 * QR refs. whatsapp-web.js builds the QR string as
 * `ref,staticKeyB64,identityKeyB64,advSecret,platform` (Client.js inject()); the phone only needs
 * the ref to find the device, so the control API accepts the whole string or the bare ref.
 */
export function refFromQr(qr: string): string {
  return qr.split(',')[0].trim();
}

/** A fresh ref shaped like WhatsApp's (`2@` + base64). */
export function newRef(): string {
  return `2@${randomBytes(24).toString('base64')}`;
}

// No 0/O or 1/I: a code a person types from one screen into another.
const PAIRING_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** An 8-character pairing code (Client.js requestPairingCode returns it as "ABCDEFGH"). */
export function newPairingCode(): string {
  return [...randomBytes(8)].map((b) => PAIRING_ALPHABET[b % PAIRING_ALPHABET.length]).join('');
}
