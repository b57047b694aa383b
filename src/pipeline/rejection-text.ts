// How a rejected record reads in its dead letter: the validation error and the offending value
// as the producer would recognise it. Error path only, shared by the schema and conversion steps.
import { RecordError } from '../core/errors.js';

export function invalid(code: string, message: string): RecordError {
  return new RecordError('validation', code, message);
}

/** The value as the producer might recognise it, cut short so a huge field cannot flood the DLQ. */
export function show(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'a non-finite number';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}
