import { EnvReader } from '../config/env';
import { presentedScrapeKey, readMetricsApiKey, scrapeAllowed } from './scrape-auth';

const KEY = 'metrics-key-0123456789';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('scrape auth (METRICS_API_KEY)', () => {
  it('lets every scrape through when no key is set', () => {
    expect(scrapeAllowed({}, undefined)).toBe(true);
  });

  it('takes the key as a bearer token, a basic password (any user) or X-Api-Key', () => {
    expect(scrapeAllowed({ authorization: `Bearer ${KEY}` }, KEY)).toBe(true);
    expect(scrapeAllowed({ authorization: basic('prometheus', KEY) }, KEY)).toBe(true);
    expect(scrapeAllowed({ 'x-api-key': KEY }, KEY)).toBe(true);
  });

  it('refuses a missing, wrong or malformed key', () => {
    expect(scrapeAllowed({}, KEY)).toBe(false);
    expect(scrapeAllowed({ authorization: `Bearer ${KEY}x` }, KEY)).toBe(false);
    expect(scrapeAllowed({ authorization: basic(KEY, 'nope') }, KEY)).toBe(false);
    expect(scrapeAllowed({ authorization: `Token ${KEY}` }, KEY)).toBe(false);
    expect(presentedScrapeKey({ authorization: 'Basic bm9jb2xvbg==' })).toBeNull(); // "nocolon"
  });

  it('reads METRICS_API_KEY: unset, or at least 16 characters', () => {
    expect(readMetricsApiKey(new EnvReader({}))).toBeUndefined();
    expect(readMetricsApiKey(new EnvReader({ METRICS_API_KEY: KEY }))).toBe(KEY);
    expect(() => readMetricsApiKey(new EnvReader({ METRICS_API_KEY: 'short' }))).toThrow(
      /METRICS_API_KEY/,
    );
  });
});
