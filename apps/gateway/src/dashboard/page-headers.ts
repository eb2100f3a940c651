/**
 * Headers on every dashboard answer. The CSP allows only the gateway's own files: no inline
 * script or style, so text that reaches the page from the API can never run even if a bug
 * inserted it as markup; `blob:` images are the QR codes the page fetches (with the page's
 * credentials) and shows. The page may not be framed (clickjacking of its buttons).
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': [
    "default-src 'self'",
    "img-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // Small files, revalidated on each load, so an upgraded gateway serves its new page at once.
  'Cache-Control': 'no-cache',
};
