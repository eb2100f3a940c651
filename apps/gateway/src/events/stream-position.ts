/**
 * Positions in the event stream: Redis stream entry ids, `<ms>-<seq>`, each part a 64-bit
 * unsigned integer. They are the SSE `id`s, so `Last-Event-ID` carries one back.
 */

const MAX_PART = 18446744073709551615n;
/** No leading zeros: positions then compare as digit strings (length first). */
const POSITION = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/;

/** Whether `value` is a position Redis could have written (`0-0` means "before everything"). */
export function isStreamPosition(value: string): boolean {
  const m = POSITION.exec(value);
  return m !== null && BigInt(m[1]) <= MAX_PART && BigInt(m[2]) <= MAX_PART;
}

/** Negative when `a` comes before `b`, 0 when equal, positive after. Both must be valid. */
export function comparePositions(a: string, b: string): number {
  const dash = a.indexOf('-');
  const bDash = b.indexOf('-');
  return (
    compareDigits(a.slice(0, dash), b.slice(0, bDash)) ||
    compareDigits(a.slice(dash + 1), b.slice(bDash + 1))
  );
}

function compareDigits(x: string, y: string): number {
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}
