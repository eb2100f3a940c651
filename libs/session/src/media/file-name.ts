/** File names of media: from the message, or from the URL that served it. */

/** The last non-empty segment of the URL's path, decoded, as a file name. */
export function filenameFromUrl(url: URL): string | undefined {
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const last = segments[segments.length - 1];
  if (!last) return undefined;
  return cleanFilename(safeDecode(last));
}

/** Percent-decoded, or as it is when it is not valid percent-encoding. */
export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A file name without path separators or control characters; undefined when nothing is left. */
export function cleanFilename(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const cleaned = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').trim();
  if (cleaned === '' || cleaned === '.' || cleaned === '..') return undefined;
  return cleaned.slice(0, 255);
}
