import { newPairingCode, newRef, refFromQr } from './qr';

describe('QR refs', () => {
  it('takes the ref from the QR string whatsapp-web.js emits (its first comma field)', () => {
    expect(refFromQr('2@abc==,STATIC,IDENTITY,ADV,Chrome')).toBe('2@abc==');
  });

  it('accepts a bare ref', () => {
    expect(refFromQr('2@abc==')).toBe('2@abc==');
  });

  it('makes distinct refs shaped like WhatsApp ones', () => {
    const a = newRef();
    expect(a).toMatch(/^2@[A-Za-z0-9+/=]+$/);
    expect(newRef()).not.toBe(a);
  });

  it('makes 8-character pairing codes without look-alike characters', () => {
    for (let i = 0; i < 50; i++) expect(newPairingCode()).toMatch(/^[A-HJ-NP-Z2-9]{8}$/);
  });
});
