import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import { IS_PUBLIC } from '../common/public.decorator';

/**
 * Names operations after their controller and handler (`SessionsController.create` →
 * `sessionsCreate`): stable, readable names for generated clients.
 */
export function operationId(controller: string, handler: string): string {
  const base = controller.replace(/Controller$/, '');
  return `${base.charAt(0).toLowerCase()}${base.slice(1)}${handler.charAt(0).toUpperCase()}${handler.slice(1)}`;
}

/** Operation ids of the handlers marked `@Public()` (on the handler or its controller). */
function publicOperationIds(app: INestApplication): Set<string> {
  const ids = new Set<string>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const ctrl = wrapper.metatype;
      if (typeof ctrl !== 'function') continue;
      const classPublic = Reflect.getMetadata(IS_PUBLIC, ctrl) === true;
      const proto = ctrl.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        if (classPublic || Reflect.getMetadata(IS_PUBLIC, handler) === true)
          ids.add(operationId(ctrl.name, name));
      }
    }
  }
  return ids;
}

/**
 * The document requires a key everywhere (its top-level `security`); the routes the guard lets
 * through without one say so with an empty requirement, read from the same `@Public()` marker
 * the guard reads, so the two cannot disagree.
 */
export function markPublicOperations(app: INestApplication, document: OpenAPIObject): void {
  const ids = publicOperationIds(app);
  for (const item of Object.values(document.paths)) {
    for (const op of Object.values(item) as unknown[]) {
      const operation = op as { operationId?: unknown; security?: unknown[] } | null;
      if (typeof operation?.operationId === 'string' && ids.has(operation.operationId))
        operation.security = [];
    }
  }
}
