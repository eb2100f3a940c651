// Type declarations of the two packages media-type.ts uses, as far as it uses them.

// mime 3 (installed with @fastify/static) ships no types.
declare module 'mime' {
  interface Mime {
    /** The type of a path, file name or bare extension; null when unknown. */
    getType(path: string): string | null;
    getExtension(type: string): string | null;
  }
  const mime: Mime;
  export default mime;
}

// file-type 22 ships types that only `node16`/`bundler` resolution finds (its package.json has
// `exports` only); our `node10` resolution does not, so the one function we call is declared here.
declare module 'file-type' {
  export interface FileTypeResult {
    ext: string;
    mime: string;
  }
  export function fileTypeFromBuffer(
    buffer: Uint8Array | ArrayBuffer,
  ): Promise<FileTypeResult | undefined>;
}
