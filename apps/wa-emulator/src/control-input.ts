import { EmulatorError } from './errors';

/**
 * Checks of the control API's input: every field's type and shape is checked before anything
 * reaches the emulator's state, so a malformed request is a 400 that changes nothing (no
 * account, device or number is created from it).
 */

export type Body = Record<string, unknown>;

const bad = (message: string) => new EmulatorError(400, 'bad_request', message);

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A phone in a path or a field: digits, optionally after a `+`; the digits are returned. */
export function phoneOf(value: unknown, what = 'phone'): string {
  if (typeof value !== 'string' || !/^\+?\d{1,20}$/.test(value))
    throw new EmulatorError(400, 'bad_phone', `${what} must be digits (optionally after +)`);
  return value.replace(/^\+/, '');
}

/** A device id in a path: what the page makes (a UUID), or any short word. */
export function deviceIdOf(value: string): string {
  if (!/^[\w-]{1,100}$/.test(value))
    throw new EmulatorError(400, 'bad_device', 'device id must be letters, digits, - or _');
  return value;
}

export function requiredText(body: Body, key: string): string {
  const value = body[key];
  if (typeof value !== 'string' || !value) throw bad(`${key} must be a non-empty string`);
  return value;
}

export function optionalText(body: Body, key: string): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw bad(`${key} must be a string`);
  return value;
}

export function optionalBoolean(body: Body, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw bad(`${key} must be true or false`);
  return value;
}

/** An integer field within [min, max]; `undefined` when absent and not required. */
export function integerIn(
  body: Body,
  key: string,
  min: number,
  max: number,
  required: boolean,
): number | undefined {
  const value = body[key];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw bad(`${key} must be an integer from ${min} to ${max}`);
  return value;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const MIMETYPE = /^[\w.+-]+\/[\w.+-]+/;

/** `POST /control/accounts/:phone/incoming`. */
export interface IncomingInput {
  from: string;
  body?: string;
  id?: string;
  pushname?: string;
  media?: { mimetype: string; filename?: string; base64: string; caption?: string };
}

export function incomingOf(body: Body): IncomingInput {
  const from = body.from;
  if (typeof from !== 'string' || !/^\+?\d{1,20}(@c\.us)?$/.test(from))
    throw bad('from must be a phone (digits, optionally +) or <digits>@c.us');
  const id = optionalText(body, 'id');
  if (id !== undefined && !/^[A-Za-z0-9]{1,64}$/.test(id))
    throw bad('id must be 1 to 64 letters or digits');
  const input: IncomingInput = {
    from: from.replace(/^\+/, ''),
    body: optionalText(body, 'body'),
    id,
    pushname: optionalText(body, 'pushname'),
  };
  if (body.media !== undefined) {
    if (!isRecord(body.media)) throw bad('media must be an object');
    const media = body.media;
    const mimetype = requiredText(media, 'mimetype');
    if (!MIMETYPE.test(mimetype)) throw bad('media.mimetype must be a mimetype');
    const base64 = media.base64;
    if (typeof base64 !== 'string' || !BASE64.test(base64))
      throw bad('media.base64 must be a non-empty base64 string');
    input.media = {
      mimetype,
      base64,
      filename: optionalText(media, 'filename'),
      caption: optionalText(media, 'caption'),
    };
  }
  return input;
}

/** `PUT /control/numbers`: `{"<digits>": {canonical: "<digits>"} | {exists: false}}`. */
export function numberRulesOf(
  body: Body,
): Record<string, { canonical: string } | { exists: false }> {
  const rules: Record<string, { canonical: string } | { exists: false }> = {};
  for (const [number, rule] of Object.entries(body)) {
    const digits = phoneOf(number, `number ${number.slice(0, 30)}`);
    if (isRecord(rule) && rule.exists === false && Object.keys(rule).length === 1) {
      rules[digits] = { exists: false };
    } else if (isRecord(rule) && typeof rule.canonical === 'string') {
      rules[digits] = { canonical: phoneOf(rule.canonical, `${digits}.canonical`) };
    } else {
      throw bad(`${digits} must be {canonical: "<digits>"} or {exists: false}`);
    }
  }
  return rules;
}
