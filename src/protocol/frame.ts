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
/** Text that could spell a forbidden key, literally or through \u escapes. */
const FORBIDDEN_HINT = /__proto__|constructor|prototype|\\u/;
/** Deepest nesting accepted in `data`; deeper payloads would only feed recursive transformers. */
export const MAX_DATA_DEPTH = 32;
const FRAME_KEYS = new Set(['event', 'data', 'id']);
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/** Containers opened in the text: an upper bound of the nesting depth, in one cheap pass. */
function countOpeners(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) count += 1;
  }
  return count;
}

type DataProblem = 'forbidden_key' | 'too_deep' | undefined;

/** Walks `value` iteratively (deep input cannot overflow the stack) for forbidden keys and depth. */
function inspectData(value: unknown): DataProblem {
  const stack: Array<readonly [unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > MAX_DATA_DEPTH) return 'too_deep';
    if (Array.isArray(current)) {
      for (const item of current) stack.push([item, depth + 1]);
      continue;
    }
    for (const key of Object.keys(current)) {
      if (FORBIDDEN_KEYS.has(key)) return 'forbidden_key';
      stack.push([(current as Record<string, unknown>)[key], depth + 1]);
    }
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function validId(id: unknown): id is string | number {
  if (typeof id === 'string') return id.length >= 1 && id.length <= 64;
  return typeof id === 'number' && Number.isSafeInteger(id);
}

function invalid(message: string, id: string | number | undefined, event: string | undefined): FrameParseResult {
  return { ok: false, code: ErrorCode.INVALID_MESSAGE, message, id, event };
}

/**
 * Parses one text frame into `{event, data, id}` (docs/protocol.md §3). Never throws: a bad
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
  if (value.id !== undefined && id === undefined) {
    return invalid('id must be a string of 1-64 characters or an integer', id, event);
  }
  if (event === undefined || event.length === 0) {
    return invalid(`event must be a string of 1-${MAX_EVENT_LENGTH} characters`, id, event);
  }
  for (const key of Object.keys(value)) {
    if (!FRAME_KEYS.has(key)) return invalid(`unknown frame field: only event, data and id are allowed`, id, event);
  }
  const data = value.data === undefined ? {} : value.data;
  if (!isPlainObject(data)) {
    return invalid('data must be an object', id, event);
  }
  // The walk runs only when the text could hold a forbidden key or is nested deeply
  // enough to matter, so ordinary frames pay one character scan.
  if (FORBIDDEN_HINT.test(text) || countOpeners(text) > MAX_DATA_DEPTH) {
    const problem = inspectData(data);
    if (problem === 'forbidden_key') return invalid('data must not contain the keys __proto__, constructor or prototype', id, event);
    if (problem === 'too_deep') return invalid(`data must not nest deeper than ${MAX_DATA_DEPTH} levels`, id, event);
  }
  return { ok: true, frame: { event, id, bytes, data } };
}
