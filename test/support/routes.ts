import { RequestMethod, type DynamicModule, type Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { EnvReader } from '@app/core';
import { GatewayModule } from '../../apps/gateway/src/gateway.module';
import { loadGatewayConfig } from '../../apps/gateway/src/config/gateway.config';
import { IS_PUBLIC } from '../../apps/gateway/src/common/public.decorator';

export interface GatewayRoute {
  method: string;
  /** With Nest's `:param` placeholders, e.g. `/api/sessions/:id/qr`. */
  path: string;
  public: boolean;
}

function join(...parts: (string | string[] | undefined)[]): string {
  const segs = parts
    .flatMap((p) => (Array.isArray(p) ? p.slice(0, 1) : [p]))
    .filter((p): p is string => typeof p === 'string' && p !== '' && p !== '/')
    .map((p) => p.replace(/^\/+|\/+$/g, ''));
  return `/${segs.join('/')}`;
}

type Controller = new (...args: never[]) => object;

/** The controllers of a module and of every module it imports, as Nest walks them. */
function controllersOf(
  mod: Type | DynamicModule,
  seen = new Set<unknown>(),
  found = new Set<Controller>(),
): Set<Controller> {
  const dynamic = typeof mod === 'function' ? undefined : mod;
  const cls = typeof mod === 'function' ? mod : mod.module;
  if (seen.has(dynamic ?? cls)) return found;
  seen.add(dynamic ?? cls);
  const meta = (key: string) =>
    [
      ...((dynamic?.[key as keyof DynamicModule] as unknown[] | undefined) ?? []),
      ...((Reflect.getMetadata(key, cls) as unknown[] | undefined) ?? []),
    ] as unknown[];
  for (const c of meta(MODULE_METADATA.CONTROLLERS)) found.add(c as Controller);
  for (const imported of meta(MODULE_METADATA.IMPORTS)) {
    if (
      typeof imported === 'function' ||
      (imported && typeof imported === 'object' && 'module' in imported)
    )
      controllersOf(imported as Type | DynamicModule, seen, found);
  }
  return found;
}

/**
 * Every route of the gateway, read from the controllers its modules register and the same
 * decorator metadata Nest builds the router from: a route added to any controller shows up
 * here without anyone listing it.
 */
export function gatewayRoutes(): GatewayRoute[] {
  const config = loadGatewayConfig(new EnvReader({ API_KEYS: 'route-listing-0123456789' }));
  const controllers = [...controllersOf(GatewayModule.forRoot(config))];
  const routes: GatewayRoute[] = [];
  for (const ctrl of controllers) {
    const base = Reflect.getMetadata(PATH_METADATA, ctrl) as string | string[] | undefined;
    const classPublic = Reflect.getMetadata(IS_PUBLIC, ctrl) === true;
    const proto = ctrl.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const handler = proto[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (method === undefined) continue;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      routes.push({
        method: RequestMethod[method],
        path: join(base, path),
        public: classPublic || Reflect.getMetadata(IS_PUBLIC, handler) === true,
      });
    }
  }
  return routes;
}
