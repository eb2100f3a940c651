/**
 * RFC 3339 date-times with a zone, and nothing else: `2024-05-01T10:00:00Z`,
 * `2024-05-01T10:00:00.250+02:00`. `Date.parse` reads many more forms (and some ISO 8601 forms
 * it cannot read at all, like `2024-W01-1` or `20240101`), and reads a time without a zone as
 * the server's local time: a message would leave hours early or late depending on where the
 * gateway runs. The `T` and `Z` may be lower case (RFC 3339 §5.6 allows it); a space instead of
 * `T` is not accepted. Leap seconds (`:60`) are refused: no clock here can schedule one.
 */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Milliseconds since the epoch of an RFC 3339 date-time with a zone, or null for anything else. */
export function parseRfc3339(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12) return null;
  if (day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  if (m[9] !== undefined && (Number(m[10]) > 23 || Number(m[11]) > 59)) return null;
  const ms = Date.parse(text.toUpperCase());
  return Number.isFinite(ms) ? ms : null;
}
