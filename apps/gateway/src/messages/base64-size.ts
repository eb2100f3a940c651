/**
 * Bytes a base64 text decodes to, from its length alone (whitespace and padding ignored): the
 * gateway caps inline media without decoding it. Its validity is checked by the DTO (IsBase64)
 * and again by the worker when it decodes.
 */
export function base64Bytes(text: string): number {
  let chars = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Not whitespace (space, \t, \n, \r) and not padding.
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13 && c !== 61) chars++;
  }
  return Math.floor((chars * 3) / 4);
}
