/**
 * A `Content-Disposition: attachment` header for a file name that comes from WhatsApp (the
 * sender chose it): RFC 6266 with both forms, a plain ASCII `filename` for old clients and the
 * exact name as RFC 8187 `filename*`. Path parts, quotes, control characters and anything a
 * header cannot hold are removed or escaped, so the name cannot break the header or a path.
 */
export function attachmentDisposition(filename: string): string {
  const base = filename
    .split(/[\\/]/)
    .pop()!
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .trim();
  const name = base === '' || base === '.' || base === '..' ? 'media' : base;
  const ascii = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** A media type fit for `Content-Type` (`type/subtype`, parameters kept), else a neutral one. */
export function safeContentType(mimetype: string): string {
  const value = mimetype.trim();
  return /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[^"\r\n]*"|[\w.+-]+))*$/.test(value)
    ? value
    : 'application/octet-stream';
}
