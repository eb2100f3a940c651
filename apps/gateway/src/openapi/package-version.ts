import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The version in the project's package.json: the nearest one above this file, which is the
 * repository's both from source (`apps/gateway/src/openapi`) and from the build
 * (`dist/apps/gateway/apps/gateway/src/openapi`, the image keeps package.json at its root).
 */
export function packageVersion(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const version = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version;
      return typeof version === 'string' ? version : '0.0.0';
    }
    if (dirname(dir) === dir) return '0.0.0';
  }
}
