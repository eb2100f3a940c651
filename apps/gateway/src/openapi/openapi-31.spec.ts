import { toOpenApi31 } from './openapi-31';

describe('toOpenApi31', () => {
  it('turns nullable into a null type, a null enum value, or anyOf with null beside a $ref', () => {
    const doc = {
      a: { type: 'string', nullable: true, enum: ['x', 'y'] },
      b: { $ref: '#/components/schemas/B', nullable: true },
      c: { anyOf: [{ type: 'string' }], nullable: true },
      d: { type: ['integer', 'null'], nullable: true },
      e: { type: 'string', nullable: false },
    };
    toOpenApi31(doc);
    expect(doc).toEqual({
      a: { type: ['string', 'null'], enum: ['x', 'y', null] },
      b: { anyOf: [{ $ref: '#/components/schemas/B' }, { type: 'null' }] },
      c: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      d: { type: ['integer', 'null'] },
      e: { type: 'string' },
    });
  });

  it('turns boolean exclusive bounds into numbers, at any depth', () => {
    const doc = {
      paths: {
        x: [
          { schema: { minimum: 0, exclusiveMinimum: true, maximum: 9, exclusiveMaximum: false } },
        ],
      },
    };
    toOpenApi31(doc);
    expect(doc.paths.x[0].schema).toEqual({ exclusiveMinimum: 0, maximum: 9 });
  });

  it('leaves examples and defaults alone: they are data', () => {
    const doc = {
      schema: { type: 'object', example: { nullable: true }, default: { nullable: 1 } },
    };
    toOpenApi31(doc);
    expect(doc.schema).toEqual({
      type: 'object',
      example: { nullable: true },
      default: { nullable: 1 },
    });
  });
});
