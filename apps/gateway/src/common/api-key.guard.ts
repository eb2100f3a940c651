import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { ApiError } from './api-error';

export type AuthedRequest = FastifyRequest & { clientId?: string };

/** A stable, non-secret name for an API key: used in Redis keys and logs instead of the key. */
export function clientIdOf(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex').slice(0, 16);
}

/** Every route under /api needs a valid X-Api-Key; the rest (/healthz, /readyz) is open. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly digests: Buffer[];

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.digests = config.apiKeys.map((k) => createHash('sha256').update(k).digest());
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    if (!req.url.startsWith('/api/') && req.url !== '/api') return true;
    const header = req.headers['x-api-key'];
    const key = Array.isArray(header) ? header[0] : header;
    if (!key) throw new ApiError(401, 'UNAUTHORIZED', 'Missing X-Api-Key header');
    if (!this.matches(key)) throw new ApiError(401, 'UNAUTHORIZED', 'Invalid API key');
    req.clientId = clientIdOf(key);
    return true;
  }

  matches(key: string): boolean {
    const digest = createHash('sha256').update(key).digest();
    // Compare digests in constant time, against every key, so timing says nothing.
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, digest) || ok;
    return ok;
  }
}
