import { displayUrl } from './dead-letter-view';

describe('displayUrl', () => {
  it('keeps scheme, host, port and path, and drops credentials, query and fragment', () => {
    expect(displayUrl('https://user:pa55@hooks.example.com:8443/wa/in?token=abc#frag')).toBe(
      'https://hooks.example.com:8443/wa/in',
    );
    expect(displayUrl('http://127.0.0.1/x')).toBe('http://127.0.0.1/x');
  });

  it('shows nothing for a value that is not a URL', () => {
    expect(displayUrl('not a url ?token=abc')).toBe('');
  });
});
