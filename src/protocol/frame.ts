import { ErrorCode } from './error-codes.js';

/** What the pipeline knows about the inbound frame being handled; passed to guards and the filter. */
export interface InboundFrame {
  readonly event: string;
  readonly id?: string | number;
  /** Raw byte length of the frame as received. */
  readonly bytes: number;
}

export interface ParsedFrame extends InboundFrame {
  readonly data: Record<string, unknown>;
}

export type FrameParseResult =
  | { readonly ok: true; readonly frame: ParsedFrame }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly id?: string | number; readonly event?: string };

const MAX_EVENT_LENGTH = 128;
/** Keys that could reach an object's prototype chain after transformation; refused at any depth. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const FORBIDDEN_HINT = /__proto__|constructor|prototype/;

/** True when `value` holds a forbidden key at any depth. Iterative: deep nesting cannot overflow the stack. */
function hasForbiddenKey(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (current === null || typeof current !== 'object') continue;
    if (Array.isArray(current)) {
      for (const item of current) stack.push(item);
      continue;
    }
    for (const key of Object.keys(current)) {
      if (FORBIDDEN_KEYS.has(key)) return true;
      stack.push((current as Record<string, unknown>)[key]);
    }
  }
  return false;
}
const FRAME_KEYS = new Set(['event', 'data', 'id']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function validId(id: unknown): id is string | number {
  if (typeof id === 'string') return id.length >= 1 && id.length <= 64;
  return typeof id === 'number' && Number.isSafeInteger(id);
}

/**
 * Parses one text frame into `{event, data, id}` (PROTOCOL.md §3). Never throws: a bad
 * frame yields INVALID_JSON or INVALID_MESSAGE so it is answered, not dropped (finding 14).
 */
export function parseFrame(raw: Buffer | string, bytes: number): FrameParseResult {
  let value: unknown;
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: ErrorCode.INVALID_JSON, message: 'Frame is not valid JSON' };
  }
  if (!isPlainObject(value)) {
    return { ok: false, code: ErrorCode.INVALID_MESSAGE, message: 'Frame must be a JSON object' };
  }
  const id = validId(value.id) ? value.id : undefined;
  const event = typeof value.event === 'string' && value.event.length <= MAX_EVENT_LENGTH ? value.event : undefined;
  const fail = (message: string): FrameParseResult => ({ ok: false, code: ErrorCode.INVALID_MESSAGE, message, id, event });
  if (value.id !== undefined && id === undefined) {
    return fail('id must be a string of 1-64 characters or an integer');
  }
  if (event === undefined || event.length === 0) {
    return fail(`event must be a string of 1-${MAX_EVENT_LENGTH} characters`);
  }
  for (const key of Object.keys(value)) {
    if (!FRAME_KEYS.has(key)) return fail(`unknown frame field: only event, data and id are allowed`);
  }
  const data = value.data === undefined ? {} : value.data;
  if (!isPlainObject(data)) {
    return fail('data must be an object');
  }
  // The scan runs only when the text could contain such a key, so ordinary frames pay nothing.
  if (FORBIDDEN_HINT.test(text) && hasForbiddenKey(data)) {
    return fail('data must not contain the keys __proto__, constructor or prototype');
  }
  return { ok: true, frame: { event, id, bytes, data } };
}
