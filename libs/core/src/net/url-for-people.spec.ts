import { urlForPeople } from './url-host-policy';

describe('urlForPeople', () => {
  it('keeps scheme, host, port and path, and drops credentials, query and fragment', () => {
    expect(urlForPeople('https://user:pa55@hooks.example.com:8443/wa/in?token=abc#frag')).toBe(
      'https://hooks.example.com:8443/wa/in',
    );
    expect(urlForPeople('http://127.0.0.1/x')).toBe('http://127.0.0.1/x');
  });

  it('shows nothing for a value that is not a URL', () => {
    expect(urlForPeople('not a url ?token=abc')).toBe('');
  });
});
