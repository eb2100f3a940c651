import { parseRfc3339 } from './rfc3339';

describe('parseRfc3339', () => {
  it.each([
    ['2024-01-01T10:00:00Z', Date.UTC(2024, 0, 1, 10)],
    ['2024-01-01t10:00:00z', Date.UTC(2024, 0, 1, 10)],
    ['2024-01-01T10:00:00.5Z', Date.UTC(2024, 0, 1, 10, 0, 0, 500)],
    ['2024-01-01T10:00:00.123456789Z', Date.UTC(2024, 0, 1, 10, 0, 0, 123)],
    ['2024-01-01T12:00:00+02:00', Date.UTC(2024, 0, 1, 10)],
    ['2024-01-01T05:30:00-04:30', Date.UTC(2024, 0, 1, 10)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2000-02-29T23:59:59Z', Date.UTC(2000, 1, 29, 23, 59, 59)],
  ])('reads %s', (text, ms) => {
    expect(parseRfc3339(text)).toBe(ms);
  });

  it.each([
    '2024-W01-1', // ISO week date
    '20240101', // ISO basic format
    '20240101T100000Z',
    '2024-01-01', // date only
    '2024-01-01T10', // hour only
    '2024-01-01T10:00', // no seconds
    '2024-01-01T10:00:00', // no zone: would be the server's local time
    '2024-01-01 10:00:00Z', // space for T
    '2024-01-01T10:00:00+0200', // offset without colon
    '2024-01-01T10:00:00+02', // offset hours only
    '2024-02-30T10:00:00Z', // no such day
    '2023-02-29T10:00:00Z', // not a leap year
    '1900-02-29T10:00:00Z', // not a leap year (century)
    '2024-04-31T10:00:00Z',
    '2024-13-01T10:00:00Z',
    '2024-00-10T10:00:00Z',
    '2024-01-00T10:00:00Z',
    '2024-01-01T24:00:00Z', // hour 24
    '2024-01-01T10:60:00Z',
    '2024-01-01T10:00:60Z', // leap second
    '2024-01-01T10:00:00+24:00',
    '2024-01-01T10:00:00.Z',
    '+002024-01-01T10:00:00Z', // expanded year
    'Mon, 01 Jan 2024 10:00:00 GMT',
    '1704103200000',
    '',
    ' 2024-01-01T10:00:00Z',
    '2024-01-01T10:00:00Z\n',
  ])('refuses %p', (text) => {
    expect(parseRfc3339(text)).toBeNull();
  });

  it('refuses what is not a string', () => {
    expect(parseRfc3339(1704103200000)).toBeNull();
    expect(parseRfc3339(null)).toBeNull();
  });
});
