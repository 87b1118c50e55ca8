/**
 * The records filter of the console: a path in the data equals a value (`user.id` = 42), or the
 * data's JSON text contains a string (case-insensitive). Applied on the server, to the data text
 * as stored, so that the page never has to load what it does not show.
 */
import { BadRequest } from './failure.js';

/** Whether a record's data (its JSON text) passes; null when there is no filter. */
export type Filter = ((dataText: string) => boolean) | null;

/** The filter a request's query asks for: `path` and `value`, or `text`; neither is no filter. */
export function filterOf(q: URLSearchParams): Filter {
  const text = q.get('text');
  const path = q.get('path');
  if (text !== null && path !== null) throw new BadRequest('filter by path or by text, not both');
  if (text !== null && text !== '') {
    const needle = text.toLowerCase();
    return (data) => data.toLowerCase().includes(needle);
  }
  if (path === null || path === '') return null;
  const keys = path.split('.');
  if (keys.some((k) => k === '')) throw new BadRequest(`a path is keys separated by dots (user.id), not ${JSON.stringify(path)}`);
  const wanted = valueOf(q.get('value') ?? '');
  return (data) => {
    let v: unknown;
    try {
      v = JSON.parse(data);
    } catch {
      return false;
    }
    for (const k of keys) {
      if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return false;
      v = (v as Record<string, unknown>)[k];
    }
    return equal(v, wanted);
  };
}

/** The value typed in the filter: JSON (42, true, "x", null, {...}), or else the text as a string. */
function valueOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Equal as JSON values: objects by their keys, whatever their order. */
function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
