/**
 * What OpenAPI 3.0 allows and 3.1 (JSON Schema 2020-12) does not, rewritten in place.
 * @nestjs/swagger already turns `nullable` into `type: [T, 'null']` when the document says 3.1,
 * but only where it generated the schema; this pass covers every schema in the document
 * (hand-written ones included) and the 3.0 boolean form of `exclusiveMinimum`/`exclusiveMaximum`.
 */
export function toOpenApi31(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) toOpenApi31(item);
    return;
  }
  if (!isObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    // Examples and defaults are data, not schemas: a `nullable` field there is the user's own.
    if (key === 'example' || key === 'examples' || key === 'default' || key === 'enum') continue;
    toOpenApi31(value);
  }
  convertNullable(node);
  convertExclusiveBound(node, 'exclusiveMinimum', 'minimum');
  convertExclusiveBound(node, 'exclusiveMaximum', 'maximum');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function convertNullable(schema: Record<string, unknown>): void {
  if (typeof schema.nullable !== 'boolean') return;
  const nullable = schema.nullable;
  delete schema.nullable;
  if (!nullable) return;
  if (typeof schema.$ref === 'string') {
    // A $ref cannot take a type beside it: either the referenced schema or null.
    const ref = schema.$ref;
    delete schema.$ref;
    schema.anyOf = [{ $ref: ref }, { type: 'null' }];
    return;
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as unknown[]) : [schema.type];
    if (!types.includes('null')) schema.type = [...types, 'null'];
  } else if (Array.isArray(schema.anyOf ?? schema.oneOf)) {
    const key = schema.anyOf ? 'anyOf' : 'oneOf';
    schema[key] = [...(schema[key] as unknown[]), { type: 'null' }];
  }
  const values = schema.enum;
  if (Array.isArray(values) && !values.includes(null))
    schema.enum = [...(values as unknown[]), null];
}

/** 3.0: `minimum: 5, exclusiveMinimum: true`; 3.1: `exclusiveMinimum: 5`. */
function convertExclusiveBound(
  schema: Record<string, unknown>,
  exclusive: 'exclusiveMinimum' | 'exclusiveMaximum',
  bound: 'minimum' | 'maximum',
): void {
  if (typeof schema[exclusive] !== 'boolean') return;
  const on = schema[exclusive];
  delete schema[exclusive];
  if (on && typeof schema[bound] === 'number') {
    schema[exclusive] = schema[bound];
    delete schema[bound];
  }
}
